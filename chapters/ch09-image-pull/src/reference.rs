//! Image references, read as Docker reads them: `alpine`, `alpine:3.20`,
//! `library/alpine`, `docker.io/library/alpine`, `localhost:5000/team/app:tag`,
//! `name@sha256:...`.

use std::fmt;

use anyhow::Result;

/// Docker Hub's name in references, and the host its API really lives on.
pub const DOCKER_HUB: &str = "docker.io";
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The registry's host (and port), e.g. "docker.io" or "localhost:5000".
    pub registry: String,
    /// The repository, e.g. "library/alpine".
    pub repository: String,
    /// The tag ("latest" when neither a tag nor a digest is given).
    pub tag: Option<String>,
    /// A manifest digest, "sha256:...".
    pub digest: Option<String>,
}

impl Reference {
    /// The host to send API requests to.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What to ask the registry for: the digest if there is one, else the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }
}

impl fmt::Display for Reference {
    /// The full form, e.g. "docker.io/library/alpine:3.20".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

// ANCHOR: parse_reference
/// Parses an image reference the way Docker does.
pub fn parse_reference(text: &str) -> Result<Reference> {
    // exercise(parse_reference): split off "@DIGEST" first (it must be
    // "sha256:" and 64 hex digits), then ":TAG" (a colon after the last "/",
    // so that "localhost:5000/app" keeps its port). The first "/"-separated
    // part is a registry if it holds a "." or a ":", or is "localhost";
    // otherwise the registry is DOCKER_HUB. On Docker Hub, a name with no
    // "/" gets the "library/" prefix. With neither tag nor digest, the tag is
    // "latest". Repository names are lowercase: [a-z0-9] with single ".", "_",
    // "-" or "__" between, parts separated by "/"; refuse anything else with
    // a message that says what a reference looks like.
    todo!("exercise `parse_reference` in src/reference.rs")
}
// ANCHOR_END: parse_reference

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> String {
        parse_reference(text).unwrap().to_string()
    }

    #[test]
    fn references_read_as_docker_reads_them() {
        assert_eq!(parsed("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(parsed("alpine:3.20"), "docker.io/library/alpine:3.20");
        assert_eq!(parsed("library/alpine"), "docker.io/library/alpine:latest");
        assert_eq!(parsed("docker.io/library/alpine"), "docker.io/library/alpine:latest");
        assert_eq!(parsed("team/app:v1"), "docker.io/team/app:v1");
        assert_eq!(parsed("localhost:5000/team/app:tag"), "localhost:5000/team/app:tag");
        assert_eq!(parsed("localhost/app"), "localhost/app:latest");
        assert_eq!(parsed("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            parsed(&format!("alpine@{digest}")),
            format!("docker.io/library/alpine@{digest}")
        );
        assert_eq!(parse_reference("alpine").unwrap().api_host(), DOCKER_HUB_API);
        assert_eq!(
            parse_reference("localhost:5000/x").unwrap().manifest_reference(),
            "latest"
        );
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in [
            "",
            "Alpine",
            "alpine:",
            "alpine@sha256:abc",
            "a//b",
            "-x",
            "x:tag with space",
            "x@md5:00",
        ] {
            assert!(parse_reference(bad).is_err(), "{bad}");
        }
    }
}
