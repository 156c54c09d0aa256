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
    // hint: Work from the right: `text.split_once('@')` for the digest, then look for ':' only
    //       after the last '/' (`rest.rfind('/')`), so "localhost:5000/app" keeps its port.
    // hint: The registry is the first '/'-part only if it contains '.' or ':' or is "localhost"
    //       ("library/alpine" and "team/app" are Docker Hub repositories); Docker Hub's one-part
    //       names get "library/".
    // hint: Validate each '/'-part of the repository: lowercase letters and digits, '.', '_' or '-'
    //       only between them (no ".." or "___", no leading or trailing separator); the tests show
    //       which refusals they expect.
    let bad = |why: &str| {
        anyhow::anyhow!("{text:?} is not an image reference ({why}): use NAME[:TAG][@sha256:DIGEST], e.g. alpine:3.20 or localhost:5000/team/app")
    };
    let (rest, digest) = match text.split_once('@') {
        Some((rest, digest)) => {
            let hex = digest
                .strip_prefix("sha256:")
                .ok_or_else(|| bad("the digest must start with sha256:"))?;
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
                return Err(bad("a sha256 digest has 64 lowercase hex digits"));
            }
            (rest, Some(digest.to_string()))
        }
        None => (text, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].split_once(':') {
        Some((_, tag)) => (
            &rest[..last_slash + rest[last_slash..].find(':').unwrap()],
            Some(tag.to_string()),
        ),
        None => (rest, None),
    };
    if let Some(tag) = &tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !tag.starts_with(['.', '-']);
        if !valid {
            return Err(bad("a tag is up to 128 letters, digits, '.', '_' and '-'"));
        }
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    let repository = if registry == DOCKER_HUB && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    let valid_part = |part: &str| {
        !part.is_empty()
            && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && !part.contains("..")
            && !part.contains("___")
    };
    if !repository.split('/').all(valid_part) {
        return Err(bad(
            "a name is lowercase letters and digits, with '.', '_' or '-' between",
        ));
    }
    let tag = if tag.is_none() && digest.is_none() {
        Some("latest".to_string())
    } else {
        tag
    };
    Ok(Reference {
        registry,
        repository,
        tag,
        digest,
    })
    // end exercise
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
