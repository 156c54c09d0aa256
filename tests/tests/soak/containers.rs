//! Many containers, every mechanism on: in a row, each with its own exit status,
//! and at once, each with its own address. Nothing of theirs may remain.

use super::*;

#[test]
fn containers_in_a_row_exit_with_their_status_and_leave_nothing() {
    let size = Size::from_env();
    let netns = NetNs::new();
    let sandbox = sandbox_in(&netns);
    let volume = volume_dir(&sandbox, "volume");
    // Every other container runs an image: its layers stacked from the store.
    let mut random = Random::new("in a row (the image)");
    let image = PushedImage::with_layers("soak-in-a-row", vec![busybox_layer()], &mut random);
    let pulled = output_of(runtime_command(&["pull", &image.reference]));
    check(pulled.code == Some(0), "the image should pull", &pulled);
    let started = Instant::now();
    for i in 0..size.in_a_row {
        // Distinct among any 120 in a row, and never 125-127 (the runtime's own).
        let status = (i % 120 + 1) as i32;
        let flags = every_mechanism(&volume, &format!("soak-{i}"));
        let script = format!("/bin/probe net; hostname; echo {i} > /data/last; exit {status}");
        let command = ["/bin/sh", "-c", &script];
        let output = if i % 2 == 0 {
            sandbox.run(&strs(&flags), &command)
        } else {
            sandbox.run_raw(&image_run_args(flags, &image.reference, &command), None, &[])
        };
        check(
            output.code == Some(status),
            &format!("container {i} should exit with its status {status}"),
            &output,
        );
        check(
            eth0_address(&output.stdout).is_some_and(|a| a.starts_with("10.88.0."))
                && output.stdout.contains(&format!("soak-{i}\n")),
            "the container should have its address on eth0 and its hostname",
            &output,
        );
        check_nothing_left(&output.container_id(), &netns, &output);
        let last = std::fs::read_to_string(volume.join("last")).unwrap_or_default();
        check(
            last == format!("{i}\n"),
            "the container should write through its volume",
            &output,
        );
    }
    let took = started.elapsed();
    eprintln!(
        "in a row: {} containers (half on a rootfs, half on an image), every mechanism on, in {:.1} s \
         ({} each, checks included); nothing left",
        size.in_a_row,
        took.as_secs_f64(),
        per_run(took, size.in_a_row)
    );
}

#[test]
fn containers_at_once_get_distinct_addresses_and_leave_nothing() {
    let size = Size::from_env();
    let netns = NetNs::new();
    let sandbox = sandbox_in(&netns);
    // Every other container runs an image: its layers stacked from the store.
    let mut random = Random::new("at once (the image)");
    let image = PushedImage::with_layers("soak-at-once", vec![busybox_layer()], &mut random);
    let pulled = output_of(runtime_command(&["pull", &image.reference]));
    check(pulled.code == Some(0), "the image should pull", &pulled);
    // They all wait for the file "go" in a volume they share: all run at once.
    let gate = volume_dir(&sandbox, "gate");
    let mut runs = GatedRuns::new(&gate);
    let started = Instant::now();
    for i in 0..size.at_once {
        let flags = every_mechanism(&gate, &format!("soak-{i}"));
        let script = format!(
            "/bin/probe net; while [ ! -e /data/go ]; do sleep 0.05; done; exit {}",
            i + 1
        );
        let command = ["/bin/sh", "-c", &script];
        let args = if i % 2 == 0 {
            sandbox.run_args(&strs(&flags), &command)
        } else {
            image_run_args(flags, &image.reference, &command)
        };
        runs.start(&netns, args);
    }
    // All are up when each has its end of a veth pair on the bridge (or when one
    // has ended already: its status says why).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let veths = netns.links().iter().filter(|l| l.starts_with("veth")).count();
        if veths == size.at_once || runs.one_ended() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let all_up = started.elapsed();
    let outputs = runs.finish();
    let took = started.elapsed();
    for (i, output) in outputs.iter().enumerate() {
        check(
            output.code == Some(i as i32 + 1),
            &format!(
                "container {i} of {} at once should exit with its status {}",
                size.at_once,
                i + 1
            ),
            output,
        );
        check_nothing_left(&output.container_id(), &netns, output);
        sandbox.assert_no_mount_left(output);
    }
    let mut addresses: Vec<String> = outputs
        .iter()
        .map(|o| eth0_address(&o.stdout).unwrap_or_default())
        .collect();
    addresses.sort();
    let before = addresses.len();
    addresses.dedup();
    assert!(
        addresses.len() == before && addresses.iter().all(|a| a.starts_with("10.88.0.")),
        "{} containers at once should have distinct addresses: {addresses:?}",
        size.at_once
    );
    eprintln!(
        "at once: {} containers (half on a rootfs, half on an image), every mechanism on, all up in {:.1} s, \
         all ended and cleaned in {:.1} s; {} distinct addresses; nothing left",
        size.at_once,
        all_up.as_secs_f64(),
        took.as_secs_f64(),
        addresses.len()
    );
}
