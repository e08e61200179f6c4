//! A world behind a corporate proxy, with the public names: the standard
//! world's fake Entra and Azure DevOps each behind a TLS front presenting a
//! certificate of a test CA for `login.microsoftonline.com` and
//! `dev.azure.com`, reachable only through a test proxy that routes those two
//! names (port 443) to the fronts. A client that does not use the proxy would
//! have to resolve the names and reach the internet; the proxy never resolves
//! anything. The config names no `authority_host` and no `hosts`: the
//! defaults are the public names, as on a real machine. How git and the
//! helper are told about the proxy and the CA is each test's business.

use super::proxy::TestProxy;
use super::tls::{TestCa, TlsFront};
use super::world::{CLIENT, TENANT, World};

/// The public Entra authority name the front serves.
pub const LOGIN_HOST: &str = "login.microsoftonline.com";
/// The public Azure DevOps name the front serves.
pub const ADO_HOST: &str = "dev.azure.com";

/// The standard world behind TLS and a proxy.
pub struct TlsWorld {
    /// The standard world: fakes, the isolated machine, the git config helpers.
    pub w: World,
    /// The CA that signed both fronts' certificates.
    pub ca: TestCa,
    /// A CA that signed nothing here, for tests of a client trusting the wrong one.
    pub wrong_ca: TestCa,
    /// TLS for `login.microsoftonline.com`, relaying to the fake Entra.
    pub entra_front: TlsFront,
    /// TLS for `dev.azure.com`, relaying to the fake Azure DevOps.
    pub ado_front: TlsFront,
    /// The proxy routing both names to their fronts.
    pub proxy: TestProxy,
    /// `https://dev.azure.com/contoso/proj/_git/repo`.
    pub repo_url: String,
}

impl TlsWorld {
    /// A world whose proxy lets anyone through.
    pub fn new() -> TlsWorld {
        TlsWorld::behind(TestProxy::start())
    }

    /// A world whose proxy demands Basic `user`:`pass`.
    pub fn with_proxy_credentials(user: &str, pass: &str) -> TlsWorld {
        TlsWorld::behind(TestProxy::with_credentials(user, pass))
    }

    /// `w` (a standard world, perhaps set up further) behind TLS and a
    /// proxy that lets anyone through.
    pub fn around(w: World) -> TlsWorld {
        TlsWorld::behind_with(w, TestProxy::start())
    }

    fn behind(proxy: TestProxy) -> TlsWorld {
        TlsWorld::behind_with(World::new(), proxy)
    }

    fn behind_with(w: World, proxy: TestProxy) -> TlsWorld {
        let ca = TestCa::new(w.env.path(), "corporate-ca");
        let wrong_ca = TestCa::new(w.env.path(), "wrong-ca");
        let entra_front = TlsFront::start(ca.server_config(&[LOGIN_HOST]), addr_of(&w.entra.url()));
        let ado_front = TlsFront::start(ca.server_config(&[ADO_HOST]), addr_of(&w.ado.base_url()));
        proxy.route(&format!("{LOGIN_HOST}:443"), entra_front.addr());
        proxy.route(&format!("{ADO_HOST}:443"), ado_front.addr());
        w.entra.set_public_url(&format!("https://{LOGIN_HOST}"));
        // The fake serves a repository by its path whatever the host it is called by.
        let repo_url = format!("https://{ADO_HOST}/contoso/proj/_git/repo");
        let world = TlsWorld {
            w,
            ca,
            wrong_ca,
            entra_front,
            ado_front,
            proxy,
            repo_url,
        };
        world.write_config("");
        world
    }

    /// Writes the config: `https://dev.azure.com/contoso` to the `ci` service
    /// principal (tenant given, so no discovery), the default hosts and
    /// authority; `extra_identities` is spliced into `identities`.
    pub fn write_config(&self, extra_identities: &str) {
        self.w.env.write_config(&format!(
            r#"{{
  "identities": {{
    "ci": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{CLIENT}", "client_secret_env": "CI_SECRET" }}{extra_identities}
  }},
  "routes": [ {{ "url": "https://{ADO_HOST}/contoso", "identity": "ci" }} ]
}}"#
        ));
    }

    /// The plain-http address of the fake Entra, for another front.
    pub fn entra_backend(&self) -> std::net::SocketAddr {
        addr_of(&self.w.entra.url())
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn proxy_url(&self) -> String {
        self.proxy.url()
    }

    /// The path of the PEM file of the CA that signed the fronts'
    /// certificates, as a string for variables and git options.
    pub fn ca_pem(&self) -> String {
        path_string(self.ca.pem_path())
    }

    /// The path of the PEM file of a CA that signed nothing here.
    pub fn wrong_ca_pem(&self) -> String {
        path_string(self.wrong_ca.pem_path())
    }
}

fn path_string(p: &std::path::Path) -> String {
    p.to_str().expect("temporary paths are UTF-8").to_owned()
}

/// The socket address in a fake's `http://127.0.0.1:PORT` URL.
fn addr_of(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|e| panic!("{url} is not http://IP:PORT: {e}"))
}
