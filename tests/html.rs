//! The HTML report in a real browser: headless Chromium (Debian's
//! `chromium`) opens the page written from a recorded transcript, with the
//! network off. The test takes a screenshot and checks that the charts were
//! drawn (each app version's line and the recovery marker are on screen in
//! their colours), that the parsed page has the expected series and
//! markers, and that the console stayed silent: the page runs no script, so
//! any console line is a blocked fetch or a broken page. A page built to
//! fail shows that the console check can fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestEnv, chromium, root};

/// What the browser made of a page.
struct Rendered {
    dom: String,
    console: Vec<String>,
    screenshot: PathBuf,
}

fn render(page: &Path, out: &Path) -> Rendered {
    let url = format!("file://{}", page.display());
    let browser = |args: &[&str]| {
        let profile = tempfile::tempdir().unwrap();
        let output = Command::new(chromium())
            .args(common::HEADLESS)
            .args(["--hide-scrollbars", "--enable-logging=stderr", "--v=0"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    let screenshot = out.join("report.png");
    let shot = browser(&[
        "--window-size=1100,1600",
        &format!("--screenshot={}", screenshot.display()),
    ]);
    let dumped = browser(&["--dump-dom"]);
    let console = [&shot.stderr, &dumped.stderr]
        .iter()
        .flat_map(|e| {
            String::from_utf8_lossy(e)
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|l| l.contains(":CONSOLE"))
        .collect();
    Rendered {
        dom: String::from_utf8(dumped.stdout).unwrap(),
        console,
        screenshot,
    }
}

/// Pixels of the screenshot within a small distance of a colour.
fn pixels_like(png_path: &Path, rgb: (u8, u8, u8)) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    assert!(
        step >= 3,
        "unexpected PNG colour type {:?}",
        info.color_type
    );
    buf[..info.buffer_size()]
        .chunks(step)
        .filter(|p| {
            let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs();
            d(p[0], rgb.0) + d(p[1], rgb.1) + d(p[2], rgb.2) < 40
        })
        .count()
}

#[test]
fn the_html_report_renders_its_charts_in_chromium() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    env.run(["report", "--format", "html", "-o"])
        .arg(&page)
        .arg(root().join("tests/fixtures/transcripts/rollout-lab.reference.json"))
        .success()
        .go();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("<script"),
        "the page must be self-contained and script-free"
    );

    let r = render(&page, dir.path());
    assert!(r.console.is_empty(), "console: {:#?}", r.console);

    // The browser's parse of the page: both charts, a line per app
    // version, the lab's fault, the moves, the recovery and the RTO target.
    for expected in [
        r#"<svg id="error-rate""#,
        r#"<svg id="p99""#,
        r#"class="series" data-version="v1""#,
        r#"class="series" data-version="v2""#,
        r#"class="marker marker-fault""#,
        r#"class="marker marker-move""#,
        r#"class="marker marker-incident-start""#,
        r#"class="marker marker-recovery""#,
        r#"class="marker marker-rto-target""#,
        "SLO 250ms",
        "PASS",
        "Deductions and their lessons",
        "flag set login_v2 off",
    ] {
        assert!(r.dom.contains(expected), "the page lacks {expected}");
    }
    let paths = r.dom.matches("<path d=\"M").count();
    assert_eq!(paths, 4, "two series in each of two charts");
    // Each series draws a line, not a point: dozens of segments.
    assert!(r.dom.matches(" L").count() > 30);

    // On screen: v1's solid blue, v2's dashed red and the recovery's green.
    let shot = &r.screenshot;
    for (what, rgb) in [
        ("v1 series", (0x1b, 0x6c, 0xa8)),
        ("v2 series", (0xc0, 0x39, 0x2b)),
        ("recovery marker", (0x1d, 0x6b, 0x2f)),
    ] {
        let n = pixels_like(shot, rgb);
        assert!(n > 60, "{what}: only {n} pixels of its colour on screen");
    }
}

#[test]
fn a_broken_page_shows_in_the_console_check() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        r#"<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head>
<body><img src="http://192.0.2.1/chart.png" alt="a chart fetched from the network"></body></html>"#,
    )
    .unwrap();
    let r = render(&page, dir.path());
    assert!(
        r.console
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "a blocked fetch must reach the console check: {:#?}",
        r.console
    );
}
