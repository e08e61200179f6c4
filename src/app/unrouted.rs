//! What a failure says when no route matched and the fallback `auto`
//! failed, in a config that routes other organizations: the fact first (no
//! route for this organization), the routes there are and the line that
//! adds one, then what `auto` tried, in a few words (the error's
//! `as_fallback`). `get`, `token` and `doctor` all print these words;
//! without routes or identities in the config, `auto` is the plan rather
//! than a fallback and speaks for itself.

use crate::azure_devops::Target;
use crate::config::{Config, Route};

/// How many routes a message lists before "and N more".
const SHOWN: usize = 3;

/// No route matched a target in a config that routes or defines something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoRoute {
    /// The URL routes were matched against.
    pub url: String,
    /// The URL a new route would name: the organization's, else the host's.
    pub route_url: String,
    /// The config file.
    pub file: String,
    /// Its routes.
    pub routes: Vec<Route>,
    /// Its identities' names.
    pub identities: Vec<String>,
}

impl NoRoute {
    /// `None` when the config has no routes and no identities: then `auto`
    /// serves everything by design.
    pub fn new(target: &Target, config: &Config) -> Option<NoRoute> {
        if config.routes.is_empty() && config.identities.is_empty() {
            return None;
        }
        Some(NoRoute {
            url: target.url.clone(),
            route_url: match &target.org {
                Some(org) => format!("{}/{org}", target.base),
                None => target.base.clone(),
            },
            file: config.describe_file(),
            routes: config.routes.clone(),
            identities: config.identities.keys().cloned().collect(),
        })
    }

    /// The fact, and the routes there are (a few).
    pub fn lead(&self) -> String {
        // A route deeper than the organization (one project) may exist; then
        // only the whole URL is unmatched.
        let deeper = format!("{}/", self.route_url);
        let unmatched = if self.routes.iter().any(|r| r.url.starts_with(&deeper)) {
            &self.url
        } else {
            &self.route_url
        };
        let shown: Vec<String> = self
            .routes
            .iter()
            .take(SHOWN)
            .map(|r| format!("{} -> {}", r.url, r.identity))
            .collect();
        let routes = match self.routes.len().saturating_sub(SHOWN) {
            _ if shown.is_empty() => "there are no routes yet".to_string(),
            0 => format!("routes: {}", shown.join(", ")),
            more => format!("routes: {} and {more} more", shown.join(", ")),
        };
        format!("no route matches {unmatched} ({routes})")
    }

    /// How to add one: the JSON to add, and where.
    pub fn fix(&self) -> String {
        let (identity, note) = match self.identities.as_slice() {
            [one] => (one.as_str(), String::new()),
            [] => (
                "NAME",
                ", after defining the identity NAME under \"identities\" (see docs/guides.md)"
                    .to_string(),
            ),
            many => ("NAME", format!(", NAME being one of {}", many.join(", "))),
        };
        format!(
            "add {{ \"url\": \"{}\", \"identity\": \"{identity}\" }} to \"routes\" in {}{note}",
            self.route_url, self.file
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_route(routes: usize, identities: &[&str]) -> NoRoute {
        NoRoute {
            url: "https://dev.azure.com/fabrikam/p/_git/r".into(),
            route_url: "https://dev.azure.com/fabrikam".into(),
            file: "/c/config.json".into(),
            routes: (0..routes)
                .map(|i| Route {
                    url: format!("https://dev.azure.com/org{i}"),
                    identity: "ci".into(),
                })
                .collect(),
            identities: identities.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_few_routes_are_listed_then_counted() {
        assert_eq!(
            no_route(1, &["ci"]).lead(),
            "no route matches https://dev.azure.com/fabrikam (routes: https://dev.azure.com/org0 -> ci)"
        );
        assert!(
            no_route(5, &["ci"])
                .lead()
                .ends_with("https://dev.azure.com/org2 -> ci and 2 more)")
        );
        assert!(no_route(0, &["ci"]).lead().contains("no routes yet"));
    }

    #[test]
    fn a_route_for_one_project_leaves_only_the_whole_url_unmatched() {
        let mut r = no_route(0, &["ci"]);
        r.routes.push(Route {
            url: "https://dev.azure.com/fabrikam/other".into(),
            identity: "ci".into(),
        });
        assert!(
            r.lead()
                .starts_with("no route matches https://dev.azure.com/fabrikam/p/_git/r ("),
            "{}",
            r.lead()
        );
    }

    #[test]
    fn the_fix_names_the_identity_when_there_is_one() {
        assert_eq!(
            no_route(1, &["ci"]).fix(),
            r#"add { "url": "https://dev.azure.com/fabrikam", "identity": "ci" } to "routes" in /c/config.json"#
        );
        assert!(no_route(1, &["a", "b"]).fix().ends_with(
            r#""identity": "NAME" } to "routes" in /c/config.json, NAME being one of a, b"#
        ));
        assert!(
            no_route(0, &[])
                .fix()
                .contains("after defining the identity NAME")
        );
    }
}
