//! Settings parse as documented, and refuse what the services could not serve.

use super::*;

#[test]
fn durations_parse_with_units() {
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
    assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(21_600)));
    assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
    assert!(parse_duration("soon").is_err());
    assert!(parse_duration("5 parsecs").is_err());
    assert!(parse_duration("99999999999999999999999").is_err());
    assert!(parse_duration("101000d").is_err());
}

#[test]
fn retry_waits_parse_and_run_out() {
    let waits: RetryWaits = "1m,5m".parse().unwrap();
    assert_eq!(waits.after(0), None);
    assert_eq!(waits.after(1), Some(Duration::from_secs(60)));
    assert_eq!(waits.after(2), Some(Duration::from_secs(300)));
    assert_eq!(waits.after(3), None);
    assert_eq!("none".parse::<RetryWaits>().unwrap().after(1), None);
    assert!("1m,soon".parse::<RetryWaits>().is_err());
}

#[test]
fn cached_bytes_past_what_the_library_decodes_are_refused() {
    // Checked where operators set it, the environment or a flag; settings built in code
    // (tests of the library's own defences) may go past it on purpose.
    assert!(check_max_cached_bytes(Settings::default().max_cached_bytes).is_ok());
    assert!(check_max_cached_bytes(MAX_CACHED_BYTES_LIMIT).is_ok());
    let error = check_max_cached_bytes(MAX_CACHED_BYTES_LIMIT + 1).unwrap_err();
    assert!(
        error.contains("TRELLIS_REFRESH_MAX_CACHED_BYTES"),
        "{error}"
    );
    assert!(
        error.contains(&MAX_CACHED_BYTES_LIMIT.to_string()),
        "{error}"
    );
    assert!(error.contains("16 MiB"), "{error}");
    assert_eq!(parse_max_cached_bytes("4000000"), Ok(4_000_000));
    assert!(parse_max_cached_bytes("17000000").is_err());
    assert!(parse_max_cached_bytes("lots").is_err());
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let settings = Settings {
        smtp_password: Some("hunter2".parse().unwrap()),
        ..Settings::default()
    };
    assert!(!format!("{settings:?}").contains("hunter2"));
}

#[test]
fn defaults_follow_the_design() {
    let settings = Settings::default();
    let policy = settings.backoff_policy();
    assert_eq!(policy.disable_after(), 20);
    assert_eq!(settings.lease, Duration::from_secs(60));
    assert!(!settings.allow_private_networks);
    assert_eq!(settings.report_lead_time, Duration::from_secs(15 * 60));
    assert_eq!(settings.smtp_tls, SmtpTls::Starttls);
    assert_eq!(settings.max_retry_after, Duration::from_secs(3600));
    assert_eq!(settings.max_rows, 100_000);
    assert_eq!(settings.activity_throttle, Duration::from_secs(60));
    assert_eq!(settings.report_min_interval, Duration::from_secs(300));
    assert_eq!(settings.report_max_schedules, 100);
    assert_eq!(settings.max_deferrals, 10);
    assert!(settings.host_limits.is_empty());
    assert_eq!(settings.max_page_wait, Duration::from_secs(30));
    // A GetCachedData answer (the data and a few hundred bytes about it) stays under
    // the 4 MiB gRPC clients decode by default.
    assert!(settings.max_cached_bytes + 64 * 1024 <= 4 * 1024 * 1024);
}

#[test]
fn a_bad_host_limit_stops_the_service_at_start_naming_the_entry() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }
    let parse = |value: &str| {
        <Cli as clap::Parser>::try_parse_from(["trellis-refresh", "--host-limits", value])
    };
    let error = parse("api.example.com=10/soon").err().unwrap().to_string();
    assert!(error.contains("--host-limits"), "{error}");
    assert!(error.contains("`api.example.com=10/soon`"), "{error}");
    let cli = parse("api.example.com=10/1s+5000/1d;max=4").ok().unwrap();
    let limit = cli.settings.host_limits.of("api.example.com").unwrap();
    assert_eq!((limit.rates.len(), limit.max_concurrent), (2, 4));
}
