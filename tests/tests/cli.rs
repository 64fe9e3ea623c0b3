//! The `parley` command line: start-up failures are clear, accounts can be made from a shell.

mod common;
use common::{Engine, TestDb, parley_bin};
use std::io::Write;
use std::process::{Command, Stdio};

#[tokio::test]
async fn failed_migration_stops_the_server_with_a_clear_message() {
    let db = TestDb::new(Engine::Sqlite).await;
    let path = db.dir.join("parley.db");
    // A database someone else made, whose `users` table clashes with the first migration.
    let status = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('create table users (x int)')",
        ])
        .arg(&path)
        .status()
        .expect("python3");
    assert!(status.success());
    let out = Command::new(parley_bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &db.url])
        .output()
        .expect("run parley");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database migration failed"), "{stderr}");
    assert!(stderr.contains("users"), "the message names the clash: {stderr}");
}

#[tokio::test]
async fn user_add_reads_the_password_from_stdin() {
    let db = TestDb::new(Engine::Sqlite).await;
    let add = |email: &str, password: &str| {
        let mut child = Command::new(parley_bin())
            .args([
                "user",
                "add",
                "--role",
                "reviewer",
                "--email",
                email,
                "--password-stdin",
                "--database-url",
                &db.url,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run parley");
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = add("rev@example.org", "correct horse battery");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created rev@example.org (reviewer)"));

    let again = add("rev@example.org", "correct horse battery");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let weak = add("new@example.org", "short");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 10"));
}

#[test]
fn unknown_role_is_refused_by_name() {
    let out = Command::new(parley_bin())
        .args(["user", "add", "--role", "owner", "--email", "a@example.org"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role \"owner\""));
}

#[test]
fn model_check_explains_a_missing_file() {
    let out = Command::new(parley_bin())
        .args(["model", "check", "--model", "/nonexistent/SmolLM2-135M-Instruct.Q4_1.gguf"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not found") && stderr.contains("fetch-model.sh"), "{stderr}");
}

#[test]
fn help_documents_every_serve_flag() {
    let out = Command::new(parley_bin()).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--addr",
        "PARLEY_ADDR",
        "--database-url",
        "DATABASE_URL",
        "--data-dir",
        "PARLEY_DATA_DIR",
        "--model",
        "PARLEY_MODEL",
        "--max-message-kb",
        "PARLEY_MAX_MESSAGE_KB",
        "--max-messages",
        "PARLEY_MAX_MESSAGES",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}:\n{help}");
    }
}

/// `parley serve --model PATH` must stop at start with a message naming the problem.
fn serve_refuses(model: &std::path::Path, expected: &str) {
    let out = Command::new(parley_bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", "sqlite::memory:", "--model"])
        .arg(model)
        .output()
        .expect("run parley");
    assert!(!out.status.success(), "started with {}", model.display());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(expected), "expected {expected:?} in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn broken_model_files_stop_the_server_with_a_clear_message() {
    let tiny = std::fs::read(common::tiny_model()).unwrap();
    let dir = std::env::temp_dir().join(format!("parley-bad-models-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();

    serve_refuses(&dir.join("missing.gguf"), "not found");

    let text = dir.join("notes.gguf");
    std::fs::write(&text, "these are not weights").unwrap();
    serve_refuses(&text, "not a GGUF model file");

    let truncated = dir.join("truncated.gguf");
    std::fs::write(&truncated, &tiny[..tiny.len() / 2]).unwrap();
    serve_refuses(&truncated, "cannot load the model");

    let header_only = dir.join("header-only.gguf");
    std::fs::write(&header_only, &tiny[..200]).unwrap();
    serve_refuses(&header_only, "malformed or truncated");

    // The same file with every "llama" (architecture and its keys) renamed.
    let mut other = tiny.clone();
    for i in 0..other.len().saturating_sub(5) {
        if &other[i..i + 5] == b"llama" {
            other[i..i + 5].copy_from_slice(b"qwen9");
        }
    }
    let wrong_arch = dir.join("qwen9.gguf");
    std::fs::write(&wrong_arch, other).unwrap();
    serve_refuses(&wrong_arch, "architecture \"qwen9\"");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn key_add_prints_a_key_once() {
    let dir = std::env::temp_dir().join(format!("parley-keys-{}", uuid::Uuid::new_v4()));
    let out = Command::new(parley_bin())
        .args(["key", "add", "--name", "eval harness", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("created API key \"eval harness\""), "{stdout}");
    let secret = stdout.lines().last().unwrap();
    assert!(secret.starts_with("pk-") && secret.len() > 40, "{secret}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn user_password_deactivate_activate_and_list_from_a_shell() {
    let db = TestDb::new(Engine::Sqlite).await;
    let parley = |args: &[&str]| {
        let out = Command::new(parley_bin())
            .args(args)
            .args(["--database-url", &db.url])
            .output()
            .expect("run parley");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, _, err) = parley(&["user", "add", "--role", "trainer", "--email", "ada@example.org"]);
    assert!(ok, "{err}");

    let (ok, out, err) = parley(&["user", "password", "--email", "ada@example.org"]);
    assert!(ok, "{err}");
    let password = out.trim().strip_prefix("one-time password for ada@example.org: ").expect(&out);
    assert!(password.len() >= 20, "{password}");
    let (_, list, _) = parley(&["user", "list"]);
    assert!(list.contains("ada@example.org\ttrainer\tactive, one-time password"), "{list}");

    let (ok, out, _) = parley(&["user", "deactivate", "--email", "Ada@Example.org"]);
    assert!(ok);
    assert!(out.contains("deactivated ada@example.org"), "{out}");
    let (_, list, _) = parley(&["user", "list"]);
    assert!(list.contains("ada@example.org\ttrainer\tdeactivated "), "{list}");
    let (ok, _, _) = parley(&["user", "activate", "--email", "ada@example.org"]);
    assert!(ok);
    let (_, list, _) = parley(&["user", "list"]);
    assert!(list.contains("ada@example.org\ttrainer\tactive"), "{list}");

    let (ok, _, err) = parley(&["user", "password", "--email", "nobody@example.org"]);
    assert!(!ok);
    assert!(err.contains("no account has the e-mail nobody@example.org"), "{err}");
}
