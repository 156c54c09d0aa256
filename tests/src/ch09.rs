//! Chapter 09: pulling images from a real registry (Debian's docker-registry on
//! loopback, images pushed by skopeo), verifying them, unpacking them safely, and
//! running them with their config.

use std::path::{Path, PathBuf};

use crate::ch01::expect;
use crate::oci::{self, Entry, ImageSpec, Kind};
use crate::registry::{Auth, Registry};
use crate::terminal::{run_with_stderr_on_terminal, TerminalRun};
use crate::token_issuer::{TokenIssuer, SERVICE};
use crate::{NetNs, Output, Sandbox};

/// Where the runtime stores images.
const IMAGES_DIR: &str = "/var/lib/workshop/images";

/// A registry, a layout to build images in, and what the check pulled (removed
/// from the store at the end, so checks running at once never share an image).
pub(crate) struct Fixture {
    pub(crate) binary: String,
    pub(crate) registry: Registry,
    pub(crate) layout: tempfile::TempDir,
    pulled: Vec<(String, String)>,
}

impl Fixture {
    pub(crate) fn new(binary: &str) -> Fixture {
        Fixture::with_registry(binary, Registry::start())
    }

    /// A fixture on a registry started by the check (one that wants authentication).
    pub(crate) fn with_registry(binary: &str, registry: Registry) -> Fixture {
        let layout = tempfile::Builder::new().prefix("workshop-oci-").tempdir().unwrap();
        Fixture {
            binary: binary.to_string(),
            registry,
            layout,
            pulled: Vec::new(),
        }
    }

    /// Builds `images` under `tag` and pushes them as workshop/NAME:tag; returns
    /// the full reference and what was written.
    pub(crate) fn push(&self, name: &str, tag: &str, images: &[ImageSpec], as_index: bool) -> (String, oci::Written) {
        let written = oci::write_layout(self.layout.path(), tag, images, as_index);
        oci::push(
            self.layout.path(),
            tag,
            &self.registry,
            &format!("workshop/{name}:{tag}"),
        );
        (format!("{}/workshop/{name}:{tag}", self.registry.host()), written)
    }

    /// `BINARY pull IMAGE` (on the host's network: the registry is on its loopback).
    pub(crate) fn pull(&mut self, image: &str) -> Output {
        self.pull_with_env(image, &[])
    }

    /// `BINARY pull IMAGE` with these environment variables set.
    pub(crate) fn pull_with_env(&mut self, image: &str, env: &[(&str, &str)]) -> Output {
        let sandbox = Sandbox::new(&self.binary);
        let output = sandbox.run_raw(&["pull".to_string(), image.to_string()], None, env);
        self.remember(&output.stdout);
        output
    }

    /// `BINARY pull IMAGE` with stderr on a terminal, as a person would run it.
    pub(crate) fn pull_on_terminal(&mut self, image: &str) -> TerminalRun {
        let run = run_with_stderr_on_terminal(&self.binary, &["pull", image]);
        self.remember(&run.stdout);
        run
    }

    /// Remembers the image a pull printed ("REFERENCE: DIGEST"), to remove it at the end.
    fn remember(&mut self, stdout: &str) {
        if let Some((reference, digest)) = stdout.trim().rsplit_once(": ") {
            self.pulled.push((reference.to_string(), digest.to_string()));
        }
    }

    /// The root filesystem the store holds for `digest`.
    fn rootfs(digest: &str) -> PathBuf {
        Path::new(IMAGES_DIR)
            .join(digest.trim_start_matches("sha256:"))
            .join("rootfs")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for (reference, digest) in &self.pulled {
            let _ = std::fs::remove_dir_all(Path::new(IMAGES_DIR).join(digest.trim_start_matches("sha256:")));
            let key = oci::sha256_digest(reference.as_bytes());
            let _ = std::fs::remove_file(
                Path::new(IMAGES_DIR)
                    .join("refs")
                    .join(key.trim_start_matches("sha256:")),
            );
        }
    }
}

/// A layer that makes every check's image its own (different digests).
pub(crate) fn marker(check: &str) -> oci::Layer {
    oci::layer(&[
        Entry::dir("etc", 0o755),
        Entry::file("etc/made-for", 0o644, format!("{check} {}\n", std::process::id())),
    ])
}

/// The busybox + probe root filesystem of a sandbox, as a layer.
pub(crate) fn busybox_layer(binary: &str) -> oci::Layer {
    let sandbox = Sandbox::new(binary);
    oci::layer(&oci::entries_from_dir(&sandbox.rootfs))
}

/// A lower layer with files, a directory tree, a hard link, a device, setuid, an
/// owner; and an upper one that whites out a file and makes a directory opaque.
fn layers_with_whiteouts() -> (oci::Layer, oci::Layer) {
    let lower = oci::layer(&[
        Entry::dir("etc", 0o755),
        Entry::file("etc/hello", 0o644, "hello\n"),
        Entry::hardlink("etc/hello-again", "etc/hello"),
        Entry::symlink("etc/link", "hello"),
        Entry::file("etc/gone", 0o644, "deleted by the upper layer\n"),
        Entry::dir("data", 0o755),
        Entry::file("data/old", 0o644, "hidden by the opaque upper\n"),
        Entry::dir("data/sub", 0o700),
        Entry::file("data/sub/older", 0o644, "also hidden\n"),
        Entry::dir("home", 0o755),
        Entry::dir("home/user", 0o700).owned_by(1000, 1000),
        Entry::file("home/user/secret", 0o600, "mine\n").owned_by(1000, 1000),
        Entry::dir("dev", 0o755),
        Entry::char_device("dev/null", 0o666, 1, 3),
        Entry::file("usr-bin-setuid", 0o4755, "#!/bin/sh\n"),
    ]);
    let upper = oci::layer(&[
        Entry::whiteout("etc/gone"),
        Entry::file("etc/added", 0o640, "added\n").owned_by(0, 42),
        Entry::dir("data", 0o755),
        Entry::opaque("data"),
        Entry::file("data/new", 0o644, "only this\n"),
    ]);
    (lower, upper)
}

/// A tree listing with the store's ownership shift (chapter 05's mapped root,
/// 100000) taken off, to compare with an unpack that keeps the image's owners.
fn unshifted(listing: Vec<String>) -> Vec<String> {
    listing
        .into_iter()
        .map(|line| {
            let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
            if let Some((uid, gid)) = words.get(3).and_then(|ids| ids.split_once(':')) {
                let back = |id: &str| {
                    id.parse::<u32>()
                        .map(|id| id.saturating_sub(100000).to_string())
                        .unwrap_or_default()
                };
                words[3] = format!("{}:{}", back(uid), back(gid));
            }
            words.join(" ")
        })
        .collect()
}

/// The pulled image's root filesystem is what umoci, an independent unpacker,
/// makes of the same image: whiteouts and opaque directories applied.
pub fn the_image_unpacks_as_umoci_unpacks_it(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let (lower, upper) = layers_with_whiteouts();
    let spec = ImageSpec::new(vec![lower, upper, marker("unpack")]);
    let (image, written) = fixture.push("layers", "v1", &[spec], false);
    let output = fixture.pull(&image);
    let bundle = fixture.layout.path().join("bundle");
    oci::umoci_unpack(fixture.layout.path(), "v1", &bundle);
    let ours = Fixture::rootfs(&written.digest);
    let (mine, theirs) = (
        if ours.is_dir() {
            unshifted(oci::tree_listing(&ours))
        } else {
            Vec::new()
        },
        oci::tree_listing(&bundle.join("rootfs")),
    );
    let differences: Vec<String> = mine
        .iter()
        .filter(|l| !theirs.contains(l))
        .map(|l| format!("only ours:  {l}"))
        .chain(
            theirs
                .iter()
                .filter(|l| !mine.contains(l))
                .map(|l| format!("only umoci: {l}")),
        )
        .collect();
    expect(
        output.code == Some(0) && !mine.is_empty() && differences.is_empty(),
        &format!(
            "the pulled root filesystem should equal umoci's unpack of the same image:\n{}",
            differences.join("\n")
        ),
        "`apply_whiteout` in src/unpack.rs (and the pull in src/pull.rs)",
        &output,
    );
}

/// A pulled image runs with its config: entrypoint and cmd, env, working dir, user.
pub fn the_image_runs_with_its_config(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let spec = ImageSpec {
        entrypoint: vec!["/bin/sh".into(), "-c".into()],
        cmd: vec!["echo \"$GREETING from $(pwd) as $(id -u):$(id -g)\"".into()],
        env: vec!["PATH=/bin:/usr/bin".into(), "GREETING=hello".into()],
        working_dir: "/srv".into(),
        user: "1000:1000".into(),
        ..ImageSpec::new(vec![busybox_layer(binary), marker("config")])
    };
    let (image, _) = fixture.push("configured", "v1", &[spec], false);
    let pulled = fixture.pull(&image);
    let netns = NetNs::new();
    let mut sandbox = Sandbox::new(binary);
    sandbox.in_netns(&netns);
    let output = sandbox.run_raw(&["run".to_string(), image.clone()], None, &[]);
    let overridden = sandbox.run_raw(
        &["run".to_string(), image.clone(), "echo overridden".to_string()],
        None,
        &[],
    );
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let after_dashes = sandbox.run_raw(&words(&["run", &image, "--", "echo after dashes"]), None, &[]);
    expect(
        pulled.code == Some(0)
            && output.stdout == "hello from /srv as 1000:1000\n"
            && overridden.stdout == "overridden\n"
            && after_dashes.stdout == "after dashes\n",
        "`run IMAGE` should run the entrypoint + cmd with the image's env, working dir and user; \
         `run IMAGE COMMAND` and `run IMAGE -- COMMAND` replace the cmd",
        "`container_from_image` in src/lib.rs",
        &output,
    );
}

/// A blob whose content does not match its digest is refused, and nothing of the
/// image is stored.
pub fn a_tampered_blob_is_refused(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let layer = marker("tampered");
    let digest = layer.digest.clone();
    let (image, written) = fixture.push("tampered", "v1", &[ImageSpec::new(vec![layer])], false);
    fixture.registry.corrupt_blob(&digest);
    let output = fixture.pull(&image);
    expect(
        output.code == Some(1)
            && output.stderr.contains("does not match its digest")
            && !Fixture::rootfs(&written.digest).exists()
            && no_work_dir_left(),
        "a layer whose sha256 is not its digest should be refused, and nothing stored",
        "`check_digest` in src/registry.rs",
        &output,
    );
}

/// No pull's work directory outlives its pull: every `.pull-*` directory left in the
/// store belongs to a pull still running (another check's).
fn no_work_dir_left() -> bool {
    std::fs::read_dir(IMAGES_DIR)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(".pull-"))
                .all(|e| {
                    // The pull's PID is in the name: .pull-PID-...
                    let name = e.file_name().to_string_lossy().into_owned();
                    let pid = name
                        .trim_start_matches(".pull-")
                        .split('-')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    pid.parse::<u32>()
                        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
                })
        })
        .unwrap_or(true)
}

/// A layer whose uncompressed content is not the diff ID its config names is
/// refused (its blob is intact: only the config lies about it).
pub fn a_wrong_diff_id_is_refused(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let mut layer = marker("diff id");
    layer.diff_id = oci::sha256_digest(b"not this layer's content");
    let (image, written) = fixture.push("diff-id", "v1", &[ImageSpec::new(vec![layer])], false);
    let output = fixture.pull(&image);
    expect(
        output.code == Some(1)
            && output.stderr.contains("diff ID")
            && !Fixture::rootfs(&written.digest).exists()
            && no_work_dir_left(),
        "a layer whose uncompressed sha256 is not the config's diff ID should be refused, and nothing stored",
        "`check_digest` in src/registry.rs (the pull checks each diff ID with it)",
        &output,
    );
}

/// From a multi-platform index, the pull takes this machine's platform.
pub fn the_platform_of_this_machine_is_chosen(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let for_arch = |arch: &str, variant: Option<&str>| ImageSpec {
        architecture: arch.into(),
        variant: variant.map(str::to_string),
        ..ImageSpec::new(vec![
            oci::layer(&[Entry::dir("etc", 0o755), Entry::file("etc/arch", 0o644, arch)]),
            marker("platform"),
        ])
    };
    let host = oci::host_architecture();
    let other = if host == "amd64" { "arm64" } else { "amd64" };
    let images = [
        for_arch(other, (other == "arm64").then_some("v8")),
        for_arch(host, (host == "arm64").then_some("v8")),
    ];
    let (image, written) = fixture.push("multi", "v1", &images, true);
    let output = fixture.pull(&image);
    let ours = &written.manifests[1];
    let arch = std::fs::read_to_string(Fixture::rootfs(ours).join("etc/arch")).unwrap_or_default();
    expect(
        output.code == Some(0) && arch == host,
        &format!("from an index of {other} and {host}, the pull should take {host} (got {arch:?})"),
        "`select_platform` in src/image.rs",
        &output,
    );
}

/// An index with no entry for this machine is refused with Docker's message.
pub fn no_matching_platform_is_explained(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let windows = ImageSpec {
        os: "windows".into(),
        ..ImageSpec::new(vec![marker("windows")])
    };
    let (image, _) = fixture.push("windows-only", "v1", &[windows], true);
    let output = fixture.pull(&image);
    let message = format!(
        "no matching manifest for linux/{} in the manifest list entries",
        oci::host_architecture()
    );
    expect(
        output.code == Some(1) && output.stderr.contains(&message),
        &format!("an index with only windows/amd64 should fail with \"{message}\""),
        "`select_platform` in src/image.rs",
        &output,
    );
}

/// Malicious layers, each with the name its refusal must give: a path out of the
/// root (`..`, absolute), a write through a symlink to `outside_text`, a hard link
/// out of the root. (The soak suite reuses them against chapter 10.)
pub fn malicious_layers(outside_text: &str) -> Vec<(&'static str, Vec<Entry>)> {
    vec![
        ("../evil", vec![Entry::raw("../evil", Kind::File(b"x".to_vec()), 0o644)]),
        (
            "/abs-evil",
            vec![Entry::raw("/abs-evil", Kind::File(b"x".to_vec()), 0o644)],
        ),
        (
            "escape/planted",
            vec![
                Entry::symlink("escape", outside_text),
                Entry::file("escape/planted", 0o644, "x"),
            ],
        ),
        (
            "passwd-link",
            vec![Entry::raw(
                "passwd-link",
                Kind::Hardlink(b"../../../../../../etc/passwd".to_vec()),
                0o644,
            )],
        ),
    ]
}

/// Malicious layers are refused, naming the entry, and write nothing outside.
pub fn malicious_layers_are_refused(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let outside = fixture.layout.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let cases = malicious_layers(&outside.display().to_string());
    for (i, (name, entries)) in cases.into_iter().enumerate() {
        let spec = ImageSpec::new(vec![marker(&format!("malicious {i}")), oci::layer(&entries)]);
        let (image, written) = fixture.push("malicious", &format!("v{i}"), &[spec], false);
        let output = fixture.pull(&image);
        let planted = std::fs::read_dir(&outside).map(|d| d.count()).unwrap_or(0);
        expect(
            output.code == Some(1)
                && output.stderr.contains(name)
                && planted == 0
                && !Fixture::rootfs(&written.digest).exists()
                && !Path::new("/abs-evil").exists()
                && no_work_dir_left(),
            &format!("a layer with {name:?} should be refused with a message naming it, writing nothing outside"),
            "`safe_target` in src/unpack.rs",
            &output,
        );
    }
}

/// A second pull of an image in the store fetches no blob.
pub fn a_second_pull_fetches_no_blob(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let (image, _) = fixture.push("twice", "v1", &[ImageSpec::new(vec![marker("twice")])], false);
    let first = fixture.pull(&image);
    let after_first = fixture.registry.blob_fetches("workshop/twice");
    let second = fixture.pull(&image);
    let after_second = fixture.registry.blob_fetches("workshop/twice");
    expect(
        first.code == Some(0) && second.code == Some(0) && after_first == 2 && after_second == after_first,
        &format!("the first pull should fetch 2 blobs (config, layer) and the second none ({after_first}, then {after_second})"),
        "`parse_reference` in src/reference.rs; the store in src/store.rs",
        &second,
    );
}

/// References are read as Docker reads them: a bad one is refused, a digest works.
pub fn references_are_read_as_docker_reads_them(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let (image, written) = fixture.push("by-digest", "v1", &[ImageSpec::new(vec![marker("digest")])], false);
    let by_digest = image.replace(":v1", &format!("@{}", written.digest));
    let bad = fixture.pull("Not/A:Reference!");
    let pulled = fixture.pull(&by_digest);
    let listed = Sandbox::new(binary).run_raw(&["images".to_string()], None, &[]);
    expect(
        bad.code == Some(1) && bad.stderr.contains("is not an image reference"),
        "a malformed reference should be refused, saying what a reference looks like",
        "`parse_reference` in src/reference.rs",
        &bad,
    );
    expect(
        pulled.code == Some(0)
            && listed
                .stdout
                .contains(&format!("{}/workshop/by-digest@", fixture.registry.host())),
        "an image pulled by digest (NAME@sha256:...) should be stored and listed by `images`",
        "`parse_reference` in src/reference.rs",
        &pulled,
    );
}

/// A registry that wants a token (as Docker Hub does) is pulled from
/// anonymously: the runtime follows the `WWW-Authenticate: Bearer` challenge to the
/// token issuer, asks for a pull token for the repository, and presents it. A
/// repository the issuer refuses is refused with a message that says so.
pub fn a_token_registry_is_pulled_from_anonymously(binary: &str) {
    let registry = Registry::start_with(Auth::Token(TokenIssuer::start(&["workshop/secret"])));
    let mut fixture = Fixture::with_registry(binary, registry);
    let (image, _) = fixture.push("tokens", "v1", &[ImageSpec::new(vec![marker("tokens")])], false);
    let pulled = fixture.pull(&image);
    let Auth::Token(issuer) = fixture.registry.auth() else {
        unreachable!()
    };
    let asked_for_pull = issuer.requests().iter().any(|request| {
        request.service.as_deref() == Some(SERVICE) && request.scopes == ["repository:workshop/tokens:pull"]
    });
    expect(
        pulled.code == Some(0) && asked_for_pull && fixture.registry.manifest_fetches("workshop/tokens") >= 1,
        &format!(
            "the pull should answer the registry's Bearer challenge: ask the realm for a token with \
             service={SERVICE} and scope=repository:workshop/tokens:pull, then fetch the image with it \
             (the issuer was asked: {:?})",
            issuer.requests()
        ),
        "`Registry::connect` and `authenticate` in src/registry.rs",
        &pulled,
    );
    let refused = fixture.pull(&format!("{}/workshop/secret:v1", fixture.registry.host()));
    expect(
        refused.code == Some(1) && refused.stderr.contains("refused a pull token"),
        "a repository the token issuer refuses should be refused, saying the token service refused",
        "`authenticate` in src/registry.rs",
        &refused,
    );
}

/// A registry that wants a user name and password (basic authentication) gets
/// them from WORKSHOP_REGISTRY_USER/PASSWORD or from ~/.docker/config.json; without
/// them, or with a wrong password, the pull says what to do.
pub fn a_basic_auth_registry_takes_credentials(binary: &str) {
    let registry = Registry::start_with(Auth::Basic {
        user: "alice".into(),
        password: "wonderland".into(),
    });
    let mut fixture = Fixture::with_registry(binary, registry);
    let (image, _) = fixture.push("basic", "v1", &[ImageSpec::new(vec![marker("basic")])], false);
    let home = tempfile::Builder::new().prefix("workshop-home-").tempdir().unwrap();
    let home_path = home.path().display().to_string();
    let no_credentials = fixture.pull_with_env(&image, &[("HOME", &home_path)]);
    expect(
        no_credentials.code == Some(1) && no_credentials.stderr.contains("WORKSHOP_REGISTRY_USER"),
        "without credentials, the pull should say how to give a user name and password",
        "`authenticate` in src/registry.rs",
        &no_credentials,
    );
    let wrong = fixture.pull_with_env(
        &image,
        &[
            ("HOME", &home_path),
            ("WORKSHOP_REGISTRY_USER", "alice"),
            ("WORKSHOP_REGISTRY_PASSWORD", "looking-glass"),
        ],
    );
    expect(
        wrong.code == Some(1) && wrong.stderr.contains("refused the user name and password"),
        "a wrong password should be refused, saying the registry refused the credentials",
        "`Registry::connect` in src/registry.rs",
        &wrong,
    );
    let from_env = fixture.pull_with_env(
        &image,
        &[
            ("HOME", &home_path),
            ("WORKSHOP_REGISTRY_USER", "alice"),
            ("WORKSHOP_REGISTRY_PASSWORD", "wonderland"),
        ],
    );
    expect(
        from_env.code == Some(0),
        "with WORKSHOP_REGISTRY_USER and WORKSHOP_REGISTRY_PASSWORD set, the pull should succeed",
        "`authenticate` in src/registry.rs",
        &from_env,
    );
    // What `docker login` / `skopeo login` write: "auths": {HOST: {"auth": base64(user:password)}}.
    std::fs::create_dir(home.path().join(".docker")).unwrap();
    std::fs::write(
        home.path().join(".docker/config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "YWxpY2U6d29uZGVybGFuZA=="}}}}}}"#,
            fixture.registry.host()
        ),
    )
    .unwrap();
    let from_file = fixture.pull_with_env(&image, &[("HOME", &home_path)]);
    expect(
        from_file.code == Some(0),
        "with the credentials in ~/.docker/config.json (as `docker login` writes them), the pull should succeed",
        "`credentials_for` in src/registry.rs",
        &from_file,
    );
}

/// On a terminal, a pull shows its progress as `docker pull` does; piped, it
/// prints only the image's reference and digest.
pub fn pull_progress_shows_on_a_terminal_only(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let (base, top) = (marker("progress base"), marker("progress top"));
    let (image, written) = fixture.push(
        "progress",
        "v1",
        &[ImageSpec::new(vec![base.clone(), top.clone()])],
        false,
    );
    let first = fixture.pull_on_terminal(&image);
    let second = fixture.pull_on_terminal(&image);
    let piped = fixture.pull(&image);
    check_progress(&image, &written, &[&base, &top], &first, &second, &piped);
}

/// What [`pull_progress_shows_on_a_terminal_only`] expects of a first and a second
/// pull on a terminal and of a piped one (chapter 10 adds its own per-layer lines).
pub(crate) fn check_progress(
    image: &str,
    written: &oci::Written,
    layers: &[&oci::Layer],
    first: &TerminalRun,
    second: &TerminalRun,
    piped: &Output,
) {
    let screen = first.screen_lines();
    let short = |digest: &str| digest.trim_start_matches("sha256:")[..12].to_string();
    let repository = image
        .split_once('/')
        .map_or("", |(_, rest)| rest)
        .trim_end_matches(":v1");
    let mut wanted = vec![format!("v1: Pulling from {repository}")];
    wanted.extend(
        layers
            .iter()
            .map(|layer| format!("{}: Pull complete", short(&layer.digest))),
    );
    wanted.push(format!("Digest: {}", written.digest));
    wanted.push(format!("Status: Downloaded newer image for {image}"));
    let shown = |run: &TerminalRun| {
        format!(
            "exit code {:?}, stdout {:?}, terminal:\n{}",
            run.code, run.stdout, run.terminal
        )
    };
    assert!(
        first.code == Some(0) && screen == wanted && first.terminal.contains(": Downloading ["),
        "a pull on a terminal should draw a download bar per layer (\"SHORTID: Downloading [===>  ] \
         1.2MB/3.4MB\") and leave these lines:\n{wanted:#?}\nbut it left:\n{screen:#?}\n{}\n\n\
         Where to look: src/progress.rs and `pull` in src/pull.rs",
        shown(first)
    );
    assert!(
        second.code == Some(0)
            && second
                .screen_lines()
                .contains(&format!("Status: Image is up to date for {image}")),
        "a second pull on a terminal should end with \"Status: Image is up to date for {image}\"\n{}",
        shown(second)
    );
    expect(
        piped.code == Some(0) && piped.stderr.is_empty() && piped.stdout == format!("{image}: {}\n", written.digest),
        "a pull whose stderr is not a terminal should show no progress, only \"REFERENCE: DIGEST\" on stdout",
        "src/progress.rs: isatty(3) on stderr",
        piped,
    );
}

/// `--rootfs DIR` still works as in the chapters before.
pub fn the_rootfs_flag_still_works(binary: &str) {
    let netns = NetNs::new();
    crate::netns::with_every_run_in(&netns, || {
        crate::ch07::the_rootfs_is_never_changed(binary);
        crate::ch05::root_inside_with_the_mapping(binary);
        crate::ch01::a_missing_command_is_127(binary);
    });
}
