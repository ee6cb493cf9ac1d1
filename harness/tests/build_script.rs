//! images/build.sh rejects names it does not build before it starts a build. Needs the docker
//! CLI and a reachable engine, because the script checks for the image first.

use std::path::Path;
use std::process::Command;

#[test]
fn unknown_own_image_name_exits_2() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/build.sh");
    let cases = [
        (
            "postgres",
            "HARNESS_POSTGRES_IMAGE",
            "localizevideos/postgres:99-missing",
        ),
        (
            "runtime",
            "HARNESS_RUNTIME_IMAGE",
            "localizevideos/not-an-image:1",
        ),
    ];
    for (kind, variable, name) in cases {
        let output = Command::new("bash")
            .arg(&script)
            .arg(kind)
            .env(variable, name)
            .output()
            .expect("bash should run images/build.sh");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);

        assert_eq!(
            output.status.code(),
            Some(2),
            "{variable}={name}: expected exit 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("image {name} (from {variable}) is missing")),
            "{variable}={name}: {stderr}"
        );
        assert!(
            stderr.contains("localizevideos/postgres:15-bookworm-r3")
                && stderr.contains("localizevideos/runtime:bookworm"),
            "the error should name the known images: {stderr}"
        );
        assert!(
            !stdout.contains("mmdebstrap"),
            "{variable}={name}: no build should start: {stdout}"
        );
    }
}
