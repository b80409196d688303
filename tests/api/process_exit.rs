//! The test binary (like the service) exits while other threads still talk to PostgreSQL:
//! servers of finished tests whose pools reconnect after their database was dropped.
//! libpq authenticates with OpenSSL's libcrypto (SCRAM), and OpenSSL's clean-up at exit
//! freed what those threads were using: the binary died with SIGSEGV in libcrypto after
//! every test had passed (seen in CI runs and in the kernel log). With that fixed
//! (`db::keep_libcrypto_at_exit`), Kerberos' clean-up aborted it the same way; the tests'
//! URLs turn GSSAPI encryption off (`helpers::postgres_admin_url`).

use std::process::Command;
use std::time::Duration;

use diesel::Connection;

const CHILD: &str = "XTC_SLACK_TEST_EXIT_RACE_CHILD";

#[test]
fn the_process_exits_cleanly_while_threads_connect_to_postgres() {
    let Some(admin) = crate::helpers::postgres_admin_url() else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    if std::env::var(CHILD).is_ok() {
        // The child: set up as every test does, then return (and exit) while four threads
        // keep authenticating to PostgreSQL.
        let _ = crate::helpers::captured_logs();
        for _ in 0..4 {
            let url = admin.clone();
            std::thread::spawn(move || loop {
                let _ = diesel::PgConnection::establish(&url);
            });
        }
        std::thread::sleep(Duration::from_millis(100));
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for run in 0..20 {
        let out = Command::new(&exe)
            .args([
                "--exact",
                "process_exit::the_process_exits_cleanly_while_threads_connect_to_postgres",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "run {run}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
