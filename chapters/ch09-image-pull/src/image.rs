//! The documents of an image (OCI image spec; Docker's v2 schema is the same
//! shape): an index (one manifest per platform), a manifest (a config and the
//! layers, each by digest), and a config (how to run it, and the diff IDs: the
//! digests of the layers uncompressed).

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// A pointer to a blob or a manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// Which operating system and CPU a manifest in an index is for.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// An image index / manifest list.
#[derive(Debug, Deserialize)]
pub struct Index {
    pub manifests: Vec<Descriptor>,
}

/// An image manifest.
#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// The parts of an image config the runtime uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub config: RunConfig,
    pub rootfs: RootFs,
}

/// How to run the image.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunConfig {
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
    #[serde(rename = "User", default)]
    pub user: Option<String>,
}

/// The layers' diff IDs, bottom first.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// Whether a manifest media type is an index (a list of per-platform manifests).
pub fn is_index(media_type: &str, bytes: &[u8]) -> bool {
    media_type.contains("index") || media_type.contains("manifest.list") || {
        // Some registries send no precise type: look inside.
        serde_json::from_slice::<serde_json::Value>(bytes)
            .map(|v| v.get("manifests").is_some())
            .unwrap_or(false)
    }
}

/// This machine's platform, in the OCI spelling: linux, and amd64, arm64 (v8),
/// arm (v7)...
pub fn this_platform() -> Platform {
    let (architecture, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", Some("v7")),
        "x86" => ("386", None),
        other => (other, None),
    };
    Platform {
        architecture: architecture.into(),
        os: "linux".into(),
        variant: variant.map(str::to_string),
    }
}

// ANCHOR: select_platform
/// Picks the manifest of `index` for platform `want`.
pub fn select_platform<'a>(index: &'a Index, want: &Platform) -> Result<&'a Descriptor> {
    // exercise(select_platform): return the first entry of `index.manifests`
    // whose platform has the same os and architecture as `want`, and the same
    // variant when both give one (an entry without a variant fits any). If
    // there is none, fail with the message Docker gives, so that it is
    // recognised: "no matching manifest for linux/amd64 in the manifest list
    // entries" (with `want`'s os/architecture).
    todo!("exercise `select_platform` in src/image.rs")
}
// ANCHOR_END: select_platform

/// The command an image runs: its entrypoint followed by `command` if given, or
/// by its own Cmd.
pub fn command_for(config: &RunConfig, command: &[String]) -> Result<Vec<String>> {
    let mut full = config.entrypoint.clone().unwrap_or_default();
    if command.is_empty() {
        full.extend(config.cmd.clone().unwrap_or_default());
    } else {
        full.extend(command.iter().cloned());
    }
    if full.is_empty() {
        bail!("the image has no Entrypoint and no Cmd: give a command after the image");
    }
    Ok(full)
}

/// The uid and gid of the image's User ("name", "uid", "uid:gid", "name:group"),
/// looked up in the image's /etc/passwd and /etc/group when they are names.
pub fn resolve_user(user: &str, rootfs: &std::path::Path) -> Result<Option<(u32, u32)>> {
    if user.is_empty() {
        return Ok(None);
    }
    let (user, group) = user.split_once(':').map_or((user, None), |(u, g)| (u, Some(g)));
    let lookup = |file: &str, name: &str| -> Option<(u32, u32)> {
        let text = std::fs::read_to_string(rootfs.join(file)).ok()?;
        text.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name)).then(|| {
                let id = fields.get(2).and_then(|f| f.parse().ok()).unwrap_or(0);
                let gid = fields.get(3).and_then(|f| f.parse().ok()).unwrap_or(id);
                (id, gid)
            })
        })
    };
    let (uid, default_gid) = match user.parse::<u32>() {
        Ok(uid) => (uid, lookup("etc/passwd", user).map_or(uid, |(_, gid)| gid)),
        Err(_) => lookup("etc/passwd", user)
            .with_context(|| format!("the image's user {user:?} is not in its /etc/passwd"))?,
    };
    let gid = match group {
        None => default_gid,
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => lookup("etc/group", group)
                .map(|(gid, _)| gid)
                .with_context(|| format!("no group {group:?} in the image"))?,
        },
    };
    Ok(Some((uid, gid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(platforms: &[(&str, &str, Option<&str>)]) -> Index {
        Index {
            manifests: platforms
                .iter()
                .enumerate()
                .map(|(i, (os, arch, variant))| Descriptor {
                    media_type: String::new(),
                    digest: format!("sha256:{i}"),
                    size: 0,
                    platform: Some(Platform {
                        os: os.to_string(),
                        architecture: arch.to_string(),
                        variant: variant.map(str::to_string),
                    }),
                })
                .collect(),
        }
    }

    #[test]
    fn this_platform_is_the_machine_the_runtime_was_built_for() {
        let platform = this_platform();
        let expected = if cfg!(target_arch = "x86_64") {
            ("amd64", None)
        } else if cfg!(target_arch = "aarch64") {
            ("arm64", Some("v8"))
        } else {
            return; // other architectures: not checked
        };
        assert_eq!(
            (
                platform.os.as_str(),
                platform.architecture.as_str(),
                platform.variant.as_deref()
            ),
            ("linux", expected.0, expected.1)
        );
    }

    #[test]
    fn the_platform_is_chosen_and_its_absence_explained() {
        let want = Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: Some("v8".into()),
        };
        let list = index(&[
            ("windows", "amd64", None),
            ("linux", "amd64", None),
            ("linux", "arm64", Some("v8")),
        ]);
        assert_eq!(select_platform(&list, &want).unwrap().digest, "sha256:2");
        let windows_only = index(&[("windows", "amd64", None)]);
        let want = Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        };
        let error = select_platform(&windows_only, &want).unwrap_err().to_string();
        assert_eq!(
            error,
            "no matching manifest for linux/amd64 in the manifest list entries"
        );
    }

    #[test]
    fn the_command_comes_from_entrypoint_and_cmd() {
        let config = RunConfig {
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: Some(vec!["echo hi".into()]),
            ..Default::default()
        };
        assert_eq!(command_for(&config, &[]).unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(command_for(&config, &["ls".into()]).unwrap(), ["/bin/sh", "-c", "ls"]);
        assert!(command_for(&RunConfig::default(), &[]).is_err());
    }
}
