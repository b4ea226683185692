//! What a deploy puts in place: an image (tag and digest kept together), a
//! git commit, or a file with its checksum. Whether a target *runs* an
//! artifact is the provider's question (`Provider::runs`): the engine never
//! compares artifact strings itself. [`Artifact::same`] only answers where
//! the data alone is conclusive (two digests, two commit shas, two checksums).

use serde::{Deserialize, Serialize};

/// Which kinds of artifact a provider deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// A container image.
    Image,
    /// A git commit (a repo-backed service, a workflow run).
    Commit,
    /// A file or binary (a VPS systemd service).
    File,
}

impl ArtifactKind {
    /// The word shown on screen.
    pub fn label(self) -> &'static str {
        match self {
            ArtifactKind::Image => "image",
            ArtifactKind::Commit => "commit",
            ArtifactKind::File => "file",
        }
    }
}

/// A container image: repository with its tag and/or digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    /// `registry.fly.io/app`, `ghcr.io/acme/shop`.
    pub repository: String,
    /// `1.4.0`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `sha256:…`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parse `repo:tag`, `repo@sha256:…` or `repo:tag@sha256:…`.
    pub fn parse(reference: &str) -> ImageRef {
        let reference = reference.trim();
        let (rest, digest) = match reference.split_once('@') {
            Some((r, d)) if !d.is_empty() => (r, Some(d.to_string())),
            Some((r, _)) => (r, None),
            None => (reference, None),
        };
        // A tag is after the last `:` that follows the last `/` (a registry port is not a tag).
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[slash..].rfind(':') {
            Some(i) if i + 1 < rest.len() - slash => (
                rest[..slash + i].to_string(),
                Some(rest[slash + i + 1..].to_string()),
            ),
            _ => (rest.to_string(), None),
        };
        ImageRef {
            repository,
            tag,
            digest,
        }
    }

    /// What to deploy: pinned by digest when known, else by tag.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{d}", self.repository),
            (None, Some(t)) => format!("{}:{t}", self.repository),
            (None, None) => self.repository.clone(),
        }
    }

    /// Everything known, `repo:tag@sha256:…` (the form that loses nothing).
    pub fn full(&self) -> String {
        let mut s = self.repository.clone();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// Short form for tables: last path part, tag, and 4 bytes of digest
    /// (`shop:2026.11.44@e5baed8c`).
    pub fn short(&self) -> String {
        let name = self
            .repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository);
        let mut s = name.to_string();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            let hex = d.split_once(':').map_or(d.as_str(), |(_, h)| h);
            s.push('@');
            s.push_str(&hex[..hex.len().min(8)]);
        }
        s
    }
}

/// A git commit, optionally with the ref it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommitRef {
    /// Full or abbreviated sha.
    pub sha: String,
    /// Branch or tag name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `owner/name`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
}

/// A file or binary with its checksum.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileRef {
    /// Path or URL it is taken from.
    pub location: String,
    /// Hex SHA-256 of its content.
    pub sha256: String,
}

/// What a promotion or rollback deploys: an exact artifact, never "latest".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Artifact {
    /// A container image.
    Image(ImageRef),
    /// A git commit.
    Commit(CommitRef),
    /// A file or binary.
    File(FileRef),
}

impl Artifact {
    /// An image artifact from a reference string.
    pub fn image(reference: &str) -> Artifact {
        Artifact::Image(ImageRef::parse(reference))
    }

    /// Its kind.
    pub fn kind(&self) -> ArtifactKind {
        match self {
            Artifact::Image(_) => ArtifactKind::Image,
            Artifact::Commit(_) => ArtifactKind::Commit,
            Artifact::File(_) => ArtifactKind::File,
        }
    }

    /// The image, when it is one.
    pub fn as_image(&self) -> Option<&ImageRef> {
        match self {
            Artifact::Image(i) => Some(i),
            _ => None,
        }
    }

    /// Everything known, for dialogs and `--json` (`repo:tag@sha256:…`, `commit 1a2b3c4 (main)`).
    pub fn full(&self) -> String {
        match self {
            Artifact::Image(i) => i.full(),
            Artifact::Commit(c) => match &c.reference {
                Some(r) => format!("commit {} ({r})", c.sha),
                None => format!("commit {}", c.sha),
            },
            Artifact::File(f) => format!("{} sha256:{}", f.location, f.sha256),
        }
    }

    /// Short form for tables.
    pub fn short(&self) -> String {
        match self {
            Artifact::Image(i) => i.short(),
            Artifact::Commit(c) => {
                let sha = &c.sha[..c.sha.len().min(7)];
                match &c.reference {
                    Some(r) => format!("{sha} ({r})"),
                    None => sha.to_string(),
                }
            }
            Artifact::File(f) => {
                let name = f.location.rsplit('/').next().unwrap_or(&f.location);
                format!("{name}@{}", &f.sha256[..f.sha256.len().min(8)])
            }
        }
    }

    /// Whether the data alone proves these are the same artifact: equal
    /// digests where both have one, else the same repository and tag,
    /// commit shas where one is a prefix of the other, equal checksums.
    /// `None` when the data cannot tell (a tag on one side, a digest on the
    /// other): only the provider can, through `Provider::runs`.
    pub fn same(&self, other: &Artifact) -> Option<bool> {
        match (self, other) {
            (Artifact::Image(a), Artifact::Image(b)) => match (&a.digest, &b.digest) {
                (Some(x), Some(y)) => Some(x == y),
                _ if a.repository != b.repository => Some(false),
                _ => match (&a.tag, &b.tag) {
                    (Some(x), Some(y)) => Some(x == y),
                    (None, None) => Some(true),
                    // A tag on one side, only a digest on the other.
                    _ => None,
                },
            },
            (Artifact::Commit(a), Artifact::Commit(b)) => {
                let (x, y) = (a.sha.to_ascii_lowercase(), b.sha.to_ascii_lowercase());
                Some(x.len() >= 7 && y.len() >= 7 && (x.starts_with(&y) || y.starts_with(&x)))
            }
            (Artifact::File(a), Artifact::File(b)) => {
                Some(a.sha256.eq_ignore_ascii_case(&b.sha256))
            }
            _ => Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tag_digest_and_registry_port() {
        let i = ImageRef::parse("registry.fly.io/app:1.3.0@sha256:abcd1234ef");
        assert_eq!(i.repository, "registry.fly.io/app");
        assert_eq!(i.tag.as_deref(), Some("1.3.0"));
        assert_eq!(i.digest.as_deref(), Some("sha256:abcd1234ef"));
        assert_eq!(i.reference(), "registry.fly.io/app@sha256:abcd1234ef");
        assert_eq!(i.short(), "app:1.3.0@abcd1234");
        let p = ImageRef::parse("localhost:5000/shop");
        assert_eq!(p.repository, "localhost:5000/shop");
        assert_eq!(p.tag, None);
        let t = ImageRef::parse("localhost:5000/shop:v2");
        assert_eq!(t.tag.as_deref(), Some("v2"));
        assert_eq!(t.reference(), "localhost:5000/shop:v2");
    }

    #[test]
    fn same_only_where_the_data_is_conclusive() {
        let tag = Artifact::image("registry.fly.io/app:1.3.0");
        let digest = Artifact::image("registry.fly.io/app@sha256:aa");
        let both = Artifact::image("registry.fly.io/app:1.3.0@sha256:aa");
        assert_eq!(tag.same(&digest), None, "tag vs digest: ask the provider");
        assert_eq!(tag.same(&both), Some(true), "the same tag");
        assert_eq!(both.same(&digest), Some(true));
        assert_eq!(
            tag.same(&Artifact::image("registry.fly.io/app:1.3.0")),
            Some(true)
        );
        assert_eq!(
            tag.same(&Artifact::image("registry.fly.io/app:1.4.0")),
            Some(false)
        );
        assert_eq!(
            both.same(&Artifact::image("registry.fly.io/app@sha256:bb")),
            Some(false)
        );
        let c = |s: &str| {
            Artifact::Commit(CommitRef {
                sha: s.into(),
                reference: None,
                repo: None,
            })
        };
        assert_eq!(c("1a2b3c4d5e").same(&c("1A2B3C4")), Some(true));
        assert_eq!(c("1a2b3c4d5e").same(&c("1a2b")), Some(false));
        assert_eq!(c("1a2b3c4").same(&tag), Some(false));
    }

    #[test]
    fn serialises_with_its_kind() {
        let json = serde_json::to_value(Artifact::image("shop:1@sha256:ff")).unwrap();
        assert_eq!(json["kind"], "image");
        assert_eq!(json["tag"], "1");
        let back: Artifact = serde_json::from_value(json).unwrap();
        assert_eq!(back, Artifact::image("shop:1@sha256:ff"));
    }
}
