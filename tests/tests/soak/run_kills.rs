//! Runtimes killed with SIGKILL at random points of a start or a run: the next run
//! must reclaim all they left (cgroups, leases, veths, overlay directories, locks).

use super::*;

/// Counts of what killed runtimes left, by kind, and of kills.
#[derive(Default, Debug)]
struct KillFigures {
    kills: usize,
    ended_before_the_kill: usize,
    left: std::collections::BTreeMap<String, usize>,
    veths_left: usize,
}

/// Kills `size.run_kills` runs at random points of their start or run, each
/// followed by a normal run that must reclaim all that the killed one left.
/// `run_args(hostname, command)` are the arguments of a run (on a rootfs, an image).
fn kill_runs_at_random_points(
    what: &str,
    sandbox: &Sandbox,
    netns: &NetNs,
    run_args: &dyn Fn(&str, &[&str]) -> Vec<String>,
) {
    let size = Size::from_env();
    let mut random = Random::new(what);
    let script = ["/bin/sh", "-c", "/bin/probe net; sleep 0.2; exit 3"];
    // How long a whole run takes (the second: the first warms the caches): the
    // kills fall anywhere in it.
    let whole_args = run_args("whole", &script);
    let mut whole_run = Duration::ZERO;
    for _ in 0..2 {
        let timer = Instant::now();
        let whole = output_of_child(spawn_in(netns, &whole_args), &whole_args);
        whole_run = timer.elapsed();
        check(whole.code == Some(3), "a whole run should exit with 3", &whole);
    }
    // A neighbour holds a lower address while the killed one starts, and is gone
    // before the next run: that run takes the neighbour's address, so it must
    // reclaim the killed one's lease of its own accord.
    let gate = volume_dir(sandbox, "gate");
    let neighbour_args = run_args(
        "neighbour",
        &[
            "/bin/sh",
            "-c",
            "/bin/probe net; while [ ! -e /gate/go ]; do sleep 0.05; done",
        ],
    );
    let mut neighbour_args_with_gate = vec!["--volume".to_string(), format!("{}:/gate", gate.display())];
    neighbour_args_with_gate.splice(0..0, neighbour_args[..1].iter().cloned()); // "run"
    neighbour_args_with_gate.extend(neighbour_args[1..].iter().cloned());
    let mut figures = KillFigures::default();
    let mut lists = LayersInUseLists::default();
    for _ in 0..size.run_kills {
        let mut neighbour = GatedRuns::new(&gate);
        neighbour.start(netns, neighbour_args_with_gate.clone());
        let deadline = Instant::now() + Duration::from_secs(30);
        while netns.links().len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10)); // its veth is up: it has its address
        }
        let before = leftovers::stale();
        let args = run_args("killed", &script);
        let mut running = spawn_in(netns, &args);
        // Half of the kills during the start (its first tenth), half anywhere.
        let window = if random.below(2) == 0 {
            whole_run / 10
        } else {
            whole_run
        };
        std::thread::sleep(Duration::from_micros(random.below(window.as_micros() as u64)));
        if running.try_wait().unwrap().is_none() {
            let _ = kill(Pid::from_raw(running.id() as i32), Signal::SIGKILL);
            figures.kills += 1;
        } else {
            figures.ended_before_the_kill += 1;
        }
        let killed = output_of_child(running, &args);
        let left: Vec<String> = leftovers::stale().difference(&before).cloned().collect();
        for item in &left {
            *figures.left.entry(leftovers::kind(item).to_string()).or_default() += 1;
            if let Some(path) = item.strip_prefix("layers-in-use list ") {
                lists.0.push(PathBuf::from(path));
            }
        }
        // A pair whose container end was never moved in has both ends here.
        figures.veths_left += netns.links().iter().filter(|l| l.starts_with("ceth")).count();
        let neighbour = neighbour.finish().remove(0);
        check(neighbour.code == Some(0), "the neighbour should end well", &neighbour);

        // The next run reclaims all of it, and leaves nothing of its own.
        let next_args = run_args("next", &["/bin/true"]);
        let next = output_of_child(spawn_in(netns, &next_args), &next_args);
        check(
            next.code == Some(0),
            &format!("the run after a killed one should work\nthe killed run:\n{killed}"),
            &next,
        );
        let stale_now = leftovers::stale();
        let still: Vec<&String> = left.iter().filter(|item| stale_now.contains(*item)).collect();
        check(
            still.is_empty(),
            &format!("the next run should reclaim what the killed one left: {still:#?}\nthe killed run:\n{killed}"),
            &next,
        );
        check_nothing_left(&next.container_id(), netns, &next);
        sandbox.assert_no_mount_left(&killed);
    }
    eprintln!(
        "{what}: {} runtimes killed with SIGKILL at random points (a whole run takes {:.0} ms), {} had ended \
         first; stale state that appeared with the kills (other runs on the machine may add to it), all reclaimed \
         by the next run: {:?}, veth pairs never moved in {}; nothing left",
        figures.kills,
        whole_run.as_secs_f64() * 1000.0,
        figures.ended_before_the_kill,
        figures.left,
        figures.veths_left
    );
}

/// The layers-in-use lists killed runs left, removed at the end whatever happened
/// (chapter 10 does not reclaim them: the check that finds it must not leak them).
#[derive(Default)]
struct LayersInUseLists(Vec<PathBuf>);

impl Drop for LayersInUseLists {
    fn drop(&mut self) {
        for path in &self.0 {
            let id = path.file_name().unwrap_or_default().to_string_lossy();
            if !leftovers::is_running(&id) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[test]
fn a_runtime_killed_at_random_points_is_cleaned_up_by_the_next_run() {
    let netns = NetNs::new();
    let sandbox = sandbox_in(&netns);
    let volume = volume_dir(&sandbox, "volume");
    let run_args =
        |hostname: &str, command: &[&str]| sandbox.run_args(&strs(&every_mechanism(&volume, hostname)), command);
    kill_runs_at_random_points("run kills", &sandbox, &netns, &run_args);
}

#[test]
fn a_runtime_killed_while_running_an_image_is_cleaned_up_by_the_next_run() {
    let mut random = Random::new("image run kills (the image)");
    let netns = NetNs::new();
    let sandbox = sandbox_in(&netns);
    let volume = volume_dir(&sandbox, "volume");
    let image = PushedImage::with_layers("soak-killed-run", vec![busybox_layer()], &mut random);
    let pulled = output_of(runtime_command(&["pull", &image.reference]));
    check(pulled.code == Some(0), "the image should pull", &pulled);
    let run_args = |hostname: &str, command: &[&str]| {
        image_run_args(every_mechanism(&volume, hostname), &image.reference, command)
    };
    kill_runs_at_random_points("image run kills", &sandbox, &netns, &run_args);
}

#[test]
fn a_runtime_whose_stderr_reader_goes_away_still_cleans_up() {
    use std::io::BufRead;
    let netns = NetNs::new();
    let sandbox = sandbox_in(&netns);
    let volume = volume_dir(&sandbox, "volume");
    let flags = every_mechanism(&volume, "closed-stderr");
    let args = sandbox.run_args(&strs(&flags), &["/bin/sh", "-c", "/bin/probe net; sleep 0.3"]);
    let mut child = spawn_in(&netns, &args);
    // Its stderr's reader takes the line that names the container and goes, as
    // `2>&1 | head -1` would: the runtime's later prints fail (EPIPE).
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut id = String::new();
    for line in (&mut stderr).lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("[workshop parent] container ") {
            id = rest.split(' ').next().unwrap_or("").to_string();
            break;
        }
    }
    drop(stderr);
    let output = output_of_child(child, &args);
    check(id.len() == 12, "the runtime should name its container with -v", &output);
    check_nothing_left(&id, &netns, &output);
    sandbox.assert_no_mount_left(&output);
    eprintln!(
        "closed stderr: the runtime ended with {:?} and left nothing",
        output.code
    );
}

/// A runtime whose stderr is closed before it starts (every write fails with
/// EPIPE) and that has something to say, an earlier run's writable layer to
/// reclaim, still reclaims it, runs its container and reports the container's
/// status: a message it cannot write must not stop it.
#[test]
fn a_runtime_with_a_closed_stderr_reclaims_and_runs() {
    let netns = NetNs::new();
    let sandbox = sandbox_in(&netns);
    let stale = Path::new("/var/lib/workshop/containers").join(format!("dead{:08x}", std::process::id()));
    std::fs::create_dir_all(stale.join("upper")).unwrap();
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    drop(read_end); // nobody will ever read: the runtime's writes get EPIPE
    let args = sandbox.run_args(&["--net", "none"], &["/bin/sh", "-c", "exit 7"]);
    let mut child = spawn_in_with_stderr(&netns, &args, Stdio::from(write_end));
    let status = child.wait().unwrap();
    let reclaimed = !stale.exists();
    let _ = std::fs::remove_dir_all(&stale);
    let output = Output {
        code: status.code(),
        stdout: String::new(),
        stderr: "(stderr was closed)".into(),
        command_line: args.join(" "),
    };
    check(
        status.code() == Some(7) && reclaimed,
        &format!(
            "with stderr closed, the runtime should still remove the earlier run's layer {} (reclaimed: \
             {reclaimed}) and exit with the container's status 7, not fail on a message it cannot write",
            stale.display()
        ),
        &output,
    );
    sandbox.assert_no_mount_left(&output);
    eprintln!("closed stderr from the start: an earlier run's layer reclaimed, the container's status 7 reported");
}
