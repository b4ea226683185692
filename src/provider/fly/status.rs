//! Machines as shipdeck instances: health from state, checks and host status.

use super::model::Machine;
use crate::domain::{Health, Instance};
use crate::sanitize::sanitize;

/// One machine as an [`Instance`]; the state word carries the check rollup.
pub fn instance(m: &Machine) -> Instance {
    Instance {
        id: sanitize(&m.id),
        service: sanitize(m.process_group().unwrap_or("app")),
        region: m.region.as_deref().map(sanitize),
        image: m.shown_image().map(|i| sanitize(&i)),
        state: state_line(m),
        health: health(m),
    }
}

/// Fly's state, the check rollup and the output of failing checks:
/// `started · 1/2 checks passing · http: connection refused`.
pub fn state_line(m: &Machine) -> String {
    let mut line = sanitize(&m.state);
    if !m.checks.is_empty() {
        let passing = m.checks.iter().filter(|c| c.status == "passing").count();
        line.push_str(&format!(" · {passing}/{} checks passing", m.checks.len()));
        for c in m.checks.iter().filter(|c| c.status != "passing") {
            let output = c.output.as_deref().unwrap_or("").trim();
            let output: String = output.chars().take(120).collect();
            line.push_str(&format!(
                " · {} {}: {}",
                sanitize(&c.name),
                sanitize(&c.status),
                sanitize(&output)
            ));
        }
    }
    if let Some(host) = m.host_status.as_deref().filter(|h| *h != "ok") {
        line.push_str(&format!(" · host {}", sanitize(host)));
    }
    line
}

/// The health word for one machine.
pub fn health(m: &Machine) -> Health {
    if m.host_status.as_deref() == Some("unreachable") {
        return Health::Unknown;
    }
    match m.state.as_str() {
        "created" | "starting" | "replacing" | "updating" => Health::Progressing,
        "stopped" | "stopping" | "suspended" | "suspending" => Health::Suspended,
        "started" => {
            if m.checks
                .iter()
                .any(|c| c.status == "critical" || c.status == "warning")
            {
                Health::Degraded
            } else if m.checks.iter().all(|c| c.status == "passing")
                && m.host_status.as_deref().is_none_or(|h| h == "ok")
            {
                Health::Healthy
            } else {
                Health::Unknown
            }
        }
        "failed" | "launch_failed" => Health::Degraded,
        _ => Health::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn machine(state: &str, checks: serde_json::Value, host: &str) -> Machine {
        serde_json::from_value(json!({
            "id": "m1", "state": state, "region": "ams", "host_status": host,
            "config": {"image": "registry.fly.io/a:v1", "metadata": {"fly_process_group": "web"}},
            "image_ref": {"registry": "registry.fly.io", "repository": "a", "tag": "v1", "digest": "sha256:abc"},
            "checks": checks,
        }))
        .unwrap()
    }

    #[test]
    fn maps_state_checks_and_host_to_health() {
        let pass = json!([{"name": "http", "status": "passing"}]);
        let crit = json!([{"name": "http", "status": "passing"}, {"name": "tcp", "status": "critical", "output": "refused"}]);
        let warn = json!([{"name": "http", "status": "warning"}]);
        assert_eq!(
            health(&machine("started", pass.clone(), "ok")),
            Health::Healthy
        );
        assert_eq!(
            health(&machine("started", crit.clone(), "ok")),
            Health::Degraded
        );
        assert_eq!(health(&machine("started", warn, "ok")), Health::Degraded);
        assert_eq!(
            health(&machine("starting", pass.clone(), "ok")),
            Health::Progressing
        );
        assert_eq!(
            health(&machine("replacing", pass.clone(), "ok")),
            Health::Progressing
        );
        assert_eq!(
            health(&machine("stopped", pass.clone(), "ok")),
            Health::Suspended
        );
        assert_eq!(
            health(&machine("suspended", pass.clone(), "ok")),
            Health::Suspended
        );
        assert_eq!(
            health(&machine("started", pass, "unreachable")),
            Health::Unknown
        );
        let i = instance(&machine("started", crit, "ok"));
        assert_eq!(i.service, "web");
        assert_eq!(i.image.as_deref(), Some("registry.fly.io/a@sha256:abc"));
        assert_eq!(
            i.state,
            "started · 1/2 checks passing · tcp critical: refused"
        );
    }
}
