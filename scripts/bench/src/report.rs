//! The printed results: the machine, a table of medians per contender, and the
//! ratios pair by pair with the issue's targets.

use std::path::Path;
use std::process::Command;

use crate::contenders::Contender;
use crate::images::Pushed;
use crate::measure::Medians;
use crate::Cli;

/// The machine and the tools' versions, for the appendix.
pub fn machine(runtime: &Path) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cgroups = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2 (unified)"
    } else if crate::contenders::hybrid_cgroups() {
        "v1 hybrid (v1 controllers, cgroup2 at /sys/fs/cgroup/unified)"
    } else {
        "v1 (legacy)"
    };
    println!("date:     {}", first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]));
    println!(
        "machine:  {cpu}, {cores} cores, kernel {}",
        first_line("uname", &["-r"])
    );
    println!("cgroups:  {cgroups}");
    println!("runtime:  {}", runtime.display());
    for (tool, flag) in [
        ("crun", "--version"),
        ("runc", "--version"),
        ("skopeo", "--version"),
        ("umoci", "--version"),
    ] {
        println!("{tool:<9} {}", first_line(tool, &[flag]));
    }
    load();
}

/// The load average (is the machine quiet?).
pub fn load() {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let fields: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("load:     {} (1, 5, 15 min)", fields.join(" "));
}

fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_else(|e| format!("({program}: {e})"))
}

fn table(title: &str, contenders: &[Contender]) -> Vec<Medians> {
    println!();
    println!("{title}");
    println!(
        "{:<40} {:>12} {:>12} {:>18}",
        "contender", "wall ms", "CPU ms", "max RSS MiB"
    );
    let medians: Vec<Medians> = contenders.iter().map(|c| Medians::of(&c.samples)).collect();
    for (contender, m) in contenders.iter().zip(&medians) {
        println!(
            "{:<40} {:>12.2} {:>12.2} {:>11.1} (max {:.1})",
            contender.label, m.wall_ms, m.cpu_ms, m.rss_mib, m.rss_max_mib
        );
    }
    medians
}

/// One line of ratios `a / b`, and the target both must meet, if any.
fn ratio(label: &str, a: &Medians, b: &Medians, target: Option<f64>) {
    let (wall, cpu) = (a.wall_ms / b.wall_ms, a.cpu_ms / b.cpu_ms);
    let verdict = match target {
        Some(limit) if wall <= limit && cpu <= limit => format!("<= {limit:.2}: met"),
        Some(limit) => format!("<= {limit:.2}: NOT met"),
        None => String::new(),
    };
    println!("{label:<40} {wall:>12.2} {cpu:>12.2}   {verdict}");
}

fn ratio_header() {
    println!();
    println!("{:<40} {:>12} {:>12}   target", "ratio (medians)", "wall", "CPU");
}

pub fn starts(contenders: &[Contender], runs: usize, gap_ms: u64) {
    let m = table(
        &format!(
            "== Container start-to-exit of /bin/true: medians of {runs} runs each, interleaved, {gap_ms} ms apart =="
        ),
        contenders,
    );
    // The order of main.rs: (a) ch10, crun, runc, floor; (b) ch10, crun, runc,
    // crun with veth hooks, runc with veth hooks.
    let [a_ch10, a_crun, a_runc, floor, b_ch10, b_crun, b_runc, v_crun, v_runc] = m[..] else {
        return;
    };
    ratio_header();
    ratio("(a) ch10 / crun", &a_ch10, &a_crun, Some(0.5));
    ratio("(a) ch10 / runc", &a_ch10, &a_runc, None);
    ratio("(a) ch10 / floor", &a_ch10, &floor, None);
    ratio("(a) crun / floor", &a_crun, &floor, None);
    ratio("(a) runc / floor", &a_runc, &floor, None);
    ratio("(b) ch10 / crun + veth hooks", &b_ch10, &v_crun, Some(1.0));
    ratio("(b) ch10 / runc + veth hooks", &b_ch10, &v_runc, None);
    ratio("(b) ch10 / crun (lo only)", &b_ch10, &b_crun, Some(1.0));
    ratio("(b) ch10 / runc (lo only)", &b_ch10, &b_runc, None);
    ratio("(b) / (a) ch10", &b_ch10, &a_ch10, None);
    ratio("(b) / (a) crun", &b_crun, &a_crun, None);
    let peak = a_ch10.rss_max_mib.max(b_ch10.rss_max_mib);
    println!(
        "\npeak memory of the ch10 runtime (max RSS of its process tree, largest of all runs): {peak:.1} MiB: \
         target < 10 MiB: {}",
        if peak < 10.0 { "met" } else { "NOT met" }
    );
}

pub fn pulls(
    cold: &[Contender],
    cached: &[Contender],
    pushed: &Pushed,
    workshop_requests: &[String],
    skopeo_requests: &[String],
    cli: &Cli,
) {
    let sizes: Vec<String> = pushed
        .big_layer_sizes
        .iter()
        .map(|s| format!("{:.1}", *s as f64 / 1e6))
        .collect();
    let m = table(
        &format!(
            "== Cold pull + unpack of a 3-layer image ({} MB compressed): medians of {} runs each, interleaved ==",
            sizes.join(" + "),
            cli.pull_runs
        ),
        cold,
    );
    ratio_header();
    ratio("ch10 / (skopeo + umoci)", &m[0], &m[1], Some(1.0));
    let m = table(
        &format!(
            "== Pull of an image already cached: medians of {} runs each, interleaved ==",
            cli.cached_runs
        ),
        cached,
    );
    ratio_header();
    ratio("ch10 / skopeo inspect --raw", &m[0], &m[1], None);
    println!();
    let manifests = workshop_requests
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains("/manifests/"))
        .count();
    let blobs = workshop_requests
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains("/blobs/"))
        .count();
    println!(
        "requests of one cached ch10 pull (registry access log): {}: {manifests} manifest GET, {blobs} blob GET: \
         target 1 and 0: {}",
        workshop_requests.join(", "),
        if manifests == 1 && blobs == 0 { "met" } else { "NOT met" }
    );
    println!(
        "requests of one skopeo inspect --raw:                   {}",
        skopeo_requests.join(", ")
    );
}
