//! A world for managed-identity tests: the standard fake Azure DevOps, a fake
//! managed-identity endpoint of one kind pointed at through the variables the
//! platform would set, and a config whose `vm` identity serves `contoso`.

use std::time::{Duration, Instant};

use super::world::{TENANT, World};
use super::{FakeImds, MiKind, RunOutput};

/// The standard world plus a fake managed-identity endpoint.
pub struct MiWorld {
    /// Azure DevOps, the isolated machine (its fake Entra is unused).
    pub w: World,
    /// The managed-identity endpoint.
    pub mi: FakeImds,
}

impl MiWorld {
    /// A world whose environment points at a fake endpoint of `kind`.
    pub fn new(kind: MiKind) -> MiWorld {
        let mut w = World::new();
        let mi = FakeImds::start(kind.clone(), &w.entra.tenant_id(TENANT));
        match kind {
            MiKind::Imds => w
                .env
                .set_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &mi.url()),
            MiKind::AppService { header } => {
                w.env.set_env("IDENTITY_ENDPOINT", &mi.endpoint());
                w.env.set_env("IDENTITY_HEADER", &header);
            }
            MiKind::Arc { .. } => {
                w.env.set_env("IDENTITY_ENDPOINT", &mi.endpoint());
                w.env.set_env("IMDS_ENDPOINT", &mi.url());
            }
            MiKind::CloudShell => w.env.set_env("MSI_ENDPOINT", &mi.endpoint()),
        }
        let world = MiWorld { w, mi };
        world.config(r#""vm": { "type": "managed-identity" }"#, "");
        world
    }

    /// Writes a config with `identities` (JSON members) routing contoso to
    /// `vm`, and `top` (more top-level members, each followed by a comma).
    pub fn config(&self, identities: &str, top: &str) {
        self.w.env.write_config(&format!(
            r#"{{ {top}
  "identities": {{ {identities} }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "vm" }} ],
  "hosts": [ "{base}" ]
}}"#,
            base = self.w.ado.base_url()
        ));
    }

    /// `get` (Basic form, no capabilities) for identity `name`, timed.
    pub fn get(&self, name: &str) -> (RunOutput, Duration) {
        let started = Instant::now();
        let out = self
            .w
            .helper(&["get", "--identity", name], &self.w.request());
        (out, started.elapsed())
    }
}

/// The one non-empty stderr line of a failed run, asserting git got `quit=1`.
pub fn one_error(out: &RunOutput) -> String {
    assert!(!out.status.success(), "expected a failure: {}", out.stdout);
    assert_eq!(out.stdout, "quit=1\n");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one message: {}", out.stderr);
    lines[0].to_string()
}
