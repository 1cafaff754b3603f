//! The running test rig (`scripts/rig.sh start`), as its `rig.json` describes it: a registry,
//! notary-servers (anonymous and token auth), a token server, a CA, signed images.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Read from `$PORTIERIS_RIG_DIR/rig.json` (default `/tmp/portieris-rig`).
pub struct Rig {
    json: Value,
}

/// One image the rig pushed (and maybe signed).
pub struct RigImage {
    /// `127.0.0.1:5000/test/signed:v1`
    pub image: String,
    pub gun: String,
    pub tag: String,
    pub digest: String,
    /// The notary server holding its trust data.
    pub notary: String,
}

impl Rig {
    /// Panics, saying how to start it, when the rig is not running: tests never skip silently.
    pub fn get() -> Self {
        let dir =
            std::env::var("PORTIERIS_RIG_DIR").unwrap_or_else(|_| "/tmp/portieris-rig".into());
        let path = Path::new(&dir).join("rig.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "no test rig at {} ({e}): start the rig: scripts/rig.sh start",
                path.display()
            )
        });
        Self {
            json: serde_json::from_str(&text).expect("rig.json is JSON"),
        }
    }

    /// A `PORTIERIS_RIG_*` setting.
    pub fn env(&self, key: &str) -> String {
        self.json["env"][key]
            .as_str()
            .unwrap_or_else(|| panic!("rig.json has no env.{key}"))
            .to_string()
    }

    /// The CA that issued every rig server certificate.
    pub fn ca(&self) -> PathBuf {
        PathBuf::from(self.env("PORTIERIS_RIG_CA"))
    }

    /// An image by its rig.json name (`signed_v1`, `unsigned_v1`, `token_v1`…).
    pub fn image(&self, name: &str) -> RigImage {
        let image = &self.json["images"][name];
        let field = |key: &str| {
            image[key]
                .as_str()
                .unwrap_or_else(|| panic!("rig.json has no images.{name}.{key}"))
                .to_string()
        };
        RigImage {
            image: field("image"),
            gun: field("gun"),
            tag: field("tag"),
            digest: field("digest"),
            notary: field("notary"),
        }
    }

    /// A signer's PEM public key (`alice`, `bob`, `mallory`, `releaser`).
    pub fn signer_key(&self, name: &str) -> String {
        let path = self.json["signers"][name]
            .as_str()
            .unwrap_or_else(|| panic!("rig.json has no signers.{name}"));
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("signer key {path}: {e}"))
    }
}
