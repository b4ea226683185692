//! A service's health from the provider's instances, for services with no
//! health probe configured (a probe, when there is one, wins).

pub use crate::domain::instance_health::{health_of, instances_of};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Health, Instance};
    use crate::state::{EnvView, Load, ServiceView};

    fn inst(id: &str, service: &str, health: Health) -> Instance {
        Instance {
            id: id.into(),
            service: service.into(),
            region: Some("ams".into()),
            image: None,
            state: "started".into(),
            health,
        }
    }

    #[test]
    fn picks_the_service_instances() {
        let all = [
            inst("m1", "web", Health::Healthy),
            inst("m2", "worker", Health::Degraded),
        ];
        let ids = |v: Vec<&Instance>| v.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(instances_of(&all, "web", false)), ["m1"]);
        assert_eq!(ids(instances_of(&all, "web", true)), ["m1"], "a match wins");
        assert!(instances_of(&all, "api", false).is_empty());
        assert_eq!(
            ids(instances_of(&all, "api", true)),
            ["m1", "m2"],
            "the only service runs them all"
        );
    }

    fn env(services: &[(&str, bool)], instances: Option<Vec<Instance>>) -> EnvView {
        let now = chrono::Utc::now();
        EnvView {
            name: "production".into(),
            provider: crate::config::ProviderKind::Fly,
            protected: false,
            read_only: false,
            promote_to: None,
            provider_note: None,
            capabilities: None,
            releases: vec![Load::Idle],
            units: vec![services.iter().map(|(n, _)| n.to_string()).collect()],
            unit_of: services.iter().map(|_| 0).collect(),
            secrets: vec![Load::Idle],
            secret_scopes: vec![services.iter().map(|(n, _)| n.to_string()).collect()],
            instances: match instances {
                Some(data) => Load::Loaded { data, at: now },
                None => Load::Idle,
            },
            migrations: Load::Idle,
            has_migrations: false,
            services: services
                .iter()
                .map(|(name, probe)| ServiceView::new(name, *probe, false))
                .collect(),
            credentials: None,
        }
    }

    #[test]
    fn without_a_probe_the_instances_say_how_a_service_is() {
        // Before the first status: Unknown, as before.
        let e = env(&[("web", false)], None);
        assert_eq!(e.service_health(0), Health::Unknown);
        // Every machine's checks pass: Healthy, and nothing needs attention.
        let healthy = vec![
            inst("m1", "app", Health::Healthy),
            inst("m2", "app", Health::Healthy),
        ];
        let e = env(&[("web", false)], Some(healthy.clone()));
        assert_eq!(
            e.service_health(0),
            Health::Healthy,
            "single service: all machines"
        );
        assert!(!e.health().needs_attention());
        // Two services, matched by process group; the worst machine decides.
        let mixed = vec![
            inst("m1", "web", Health::Healthy),
            inst("m2", "web", Health::Degraded),
            inst("w1", "worker", Health::Healthy),
        ];
        let e = env(&[("web", false), ("worker", false)], Some(mixed.clone()));
        assert_eq!(e.service_health(0), Health::Degraded);
        assert_eq!(e.service_health(1), Health::Healthy);
        assert_eq!(e.health(), Health::Degraded);
        // A service no machine runs in a multi-service env: Unknown.
        let e = env(&[("web", false), ("cron", false)], Some(healthy.clone()));
        assert_eq!(e.service_health(1), Health::Unknown);
        // A failed refresh keeps the last instances.
        let mut e = env(&[("web", false)], Some(healthy));
        e.instances.apply(Err("timeout".into()), chrono::Utc::now());
        assert_eq!(e.service_health(0), Health::Healthy);
    }

    #[test]
    fn a_configured_probe_still_wins() {
        let mut e = env(
            &[("web", true)],
            Some(vec![inst("m1", "web", Health::Healthy)]),
        );
        assert_eq!(e.service_health(0), Health::Unknown, "not probed yet");
        e.services[0].health = Health::Degraded;
        assert_eq!(e.service_health(0), Health::Degraded);
        // Instances starting still show as a rollout in progress.
        e.instances.apply(
            Ok(vec![inst("m1", "web", Health::Progressing)]),
            chrono::Utc::now(),
        );
        assert_eq!(e.service_health(0), Health::Progressing);
    }

    #[test]
    fn rolls_instances_up_to_the_worst() {
        let h = |hs: &[Health]| {
            let v: Vec<Instance> = hs.iter().map(|h| inst("m", "web", *h)).collect();
            health_of(&v.iter().collect::<Vec<_>>())
        };
        assert_eq!(h(&[]), Health::Unknown);
        assert_eq!(h(&[Health::Healthy, Health::Healthy]), Health::Healthy);
        assert_eq!(h(&[Health::Healthy, Health::Degraded]), Health::Degraded);
        assert_eq!(
            h(&[Health::Healthy, Health::Progressing]),
            Health::Progressing
        );
        assert_eq!(h(&[Health::Healthy, Health::Unknown]), Health::Unknown);
        assert_eq!(
            h(&[Health::Healthy, Health::Suspended]),
            Health::Healthy,
            "a stopped standby"
        );
        assert_eq!(
            h(&[Health::Suspended, Health::Suspended]),
            Health::Suspended
        );
    }
}
