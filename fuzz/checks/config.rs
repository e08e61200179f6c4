//! The config loader: any text gives a valid configuration or one located
//! error, never a panic.
//!
//! A valid configuration is consistent (every route names a defined identity
//! or `auto`, route URLs are canonical and each route is the one chosen for
//! its own URL). An error names the file and, because it is printed to a
//! terminal, carries no control characters, whatever the file holds.

use std::path::Path;

use git_credential_entra::config::{AUTO, Config};

/// Loads `data` as a config file's text.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("/home/fuzz/.config/git-credential-entra/config.json");
    let home = Some(Path::new("/home/fuzz"));
    match Config::parse(text, file, home) {
        Ok(config) => {
            for route in &config.routes {
                assert!(
                    route.identity == AUTO || config.identities.contains_key(&route.identity),
                    "a route names an identity that does not exist"
                );
                assert!(
                    !route.url.ends_with('/'),
                    "a route URL kept a trailing slash"
                );
                let chosen = config
                    .route(&route.url)
                    .expect("a route matches its own URL");
                assert_eq!(
                    chosen.url, route.url,
                    "another route was chosen for a route's own URL"
                );
            }
            assert!(config.refresh_margin_seconds >= 0);
        }
        Err(e) => {
            let message = e.to_string();
            let prefix = format!("config file {}: ", file.display());
            assert!(
                message.starts_with(&prefix),
                "the error does not name the file"
            );
            assert!(
                !message.chars().any(char::is_control),
                "a config error carries a control character: {message:?}"
            );
        }
    }
}
