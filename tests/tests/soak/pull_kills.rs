//! Pulls killed with SIGKILL at random points: the next pull completes, and the
//! store trusts nothing half-written.

use super::*;

#[test]
fn a_pull_killed_at_random_points_is_completed_by_the_next_and_the_store_verifies() {
    let size = Size::from_env();
    let mut random = Random::new("pull kills");
    let image = PushedImage::new("soak-killed-pull", 3, 3 << 20, &mut random);
    let root = Path::new(store::STORE_DIR);
    let rmi = || output_of(runtime_command(&["rmi", &image.reference]));
    // How long a whole pull takes (the second: the first warms the caches): the
    // kills fall anywhere in it.
    let mut whole_pull = Duration::ZERO;
    for _ in 0..2 {
        let timer = Instant::now();
        let whole = output_of(runtime_command(&["pull", &image.reference]));
        whole_pull = timer.elapsed();
        check(
            whole.code == Some(0) && image.is_whole_in(root),
            "a whole pull should complete",
            &whole,
        );
        let removed = rmi();
        check(removed.code == Some(0), "rmi should remove the image", &removed);
    }
    let (mut kills, mut ended_first, mut work_dirs_left, mut verified_blobs) = (0, 0, 0, 0);
    for _ in 0..size.pull_kills {
        let mut pull = runtime_command(&["pull", &image.reference])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(random.below(whole_pull.as_micros() as u64)));
        if pull.try_wait().unwrap().is_none() {
            let _ = kill(Pid::from_raw(pull.id() as i32), Signal::SIGKILL);
            kills += 1;
        } else {
            ended_first += 1;
        }
        let _ = pull.wait();
        check_store(root, "a killed pull");
        let left = store::work_dirs_of(root, pull.id());
        work_dirs_left += left.len();

        let next = output_of(runtime_command(&["pull", &image.reference]));
        check(
            next.code == Some(0) && image.is_whole_in(root),
            "the pull after a killed one should complete, with every layer in the store",
            &next,
        );
        verified_blobs += check_store(root, "the next pull").blobs;
        let still = store::work_dirs_of(root, pull.id());
        check(
            still.is_empty(),
            &format!("the next pull should remove the killed pull's work directories: {still:?}"),
            &next,
        );
        let removed = rmi();
        let anything = image.anything_in(root);
        check(
            removed.code == Some(0) && anything.is_empty(),
            &format!("rmi should remove the image, its layers and blobs: {anything:?} are left"),
            &removed,
        );
    }
    eprintln!(
        "pull kills: {kills} pulls of a {}-layer image ({:.1} MB, a whole pull takes {:.0} ms) killed with SIGKILL \
         at random points, {ended_first} had ended first; {work_dirs_left} work directories left and removed by the \
         next pull; every next pull completed; {verified_blobs} blobs verified against their digests in all",
        image.layers.len(),
        image.layers.iter().map(|l| l.size).sum::<u64>() as f64 / 1e6,
        whole_pull.as_secs_f64() * 1000.0,
    );
}
