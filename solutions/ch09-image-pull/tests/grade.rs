//! The grader for chapter 09. Each test starts a real registry on loopback
//! (Debian's docker-registry), pushes images with skopeo, and runs this chapter's
//! binary as a user would; its name starts with the exercise it grades. The
//! checks live in tests/ (the workshop-grader crate), shared by the student crate
//! and the reference solution.

use workshop_grader::ch09;

const BINARY: &str = env!("CARGO_BIN_EXE_ch09-image-pull-solution");

#[test]
fn parse_reference_references_are_read_as_docker_reads_them() {
    ch09::references_are_read_as_docker_reads_them(BINARY);
}

#[test]
fn parse_reference_a_second_pull_fetches_no_blob() {
    ch09::a_second_pull_fetches_no_blob(BINARY);
}

#[test]
fn select_platform_the_platform_of_this_machine_is_chosen() {
    ch09::the_platform_of_this_machine_is_chosen(BINARY);
}

#[test]
fn select_platform_no_matching_platform_is_explained() {
    ch09::no_matching_platform_is_explained(BINARY);
}

#[test]
fn check_digest_a_tampered_blob_is_refused() {
    ch09::a_tampered_blob_is_refused(BINARY);
}

#[test]
fn check_digest_a_wrong_diff_id_is_refused() {
    ch09::a_wrong_diff_id_is_refused(BINARY);
}

#[test]
fn safe_target_malicious_layers_are_refused() {
    ch09::malicious_layers_are_refused(BINARY);
}

#[test]
fn apply_whiteout_the_image_unpacks_as_umoci_unpacks_it() {
    ch09::the_image_unpacks_as_umoci_unpacks_it(BINARY);
}

#[test]
fn the_image_runs_with_its_config() {
    ch09::the_image_runs_with_its_config(BINARY);
}

#[test]
fn a_token_registry_is_pulled_from_anonymously() {
    ch09::a_token_registry_is_pulled_from_anonymously(BINARY);
}

#[test]
fn a_basic_auth_registry_takes_credentials() {
    ch09::a_basic_auth_registry_takes_credentials(BINARY);
}

#[test]
fn pull_progress_shows_on_a_terminal_only() {
    ch09::pull_progress_shows_on_a_terminal_only(BINARY);
}

// Checks of the runtime around the exercises: they may pass before you start.

#[test]
fn regression_the_rootfs_flag_still_works() {
    ch09::the_rootfs_flag_still_works(BINARY);
}
