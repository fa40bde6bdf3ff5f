//! The sink registry: every listed key is read and checked, bad values are config errors at
//! their file:line, and `docs/configuration.md` states exactly the keys and defaults the
//! parser has.

use std::path::Path;

use super::*;
use crate::config::ConfigErrors;

fn load(text: &str) -> Result<crate::plan::Plan, ConfigErrors> {
    crate::plan::load_str(Path::new("s.toml"), text.to_string())
}

/// A valid `[[sink]]` of each type, required keys only.
fn minimal(kind: SinkKind) -> String {
    let own = match kind {
        SinkKind::Stdout => "",
        SinkKind::Matrix => {
            "homeserver = \"https://m.example\"\nroom = \"!r:m.example\"\naccess_token = \"t\"\n"
        }
        SinkKind::Telegram => "bot_token = \"1:x\"\nchat_id = 5\n",
        SinkKind::Ntfy => "topic = \"news\"\n",
        _ => "url = \"https://hooks.example/x\"\n",
    };
    format!("[[sink]]\nname = \"s\"\ntype = \"{}\"\n{own}", kind.name())
}

#[test]
fn every_type_loads_with_its_required_keys_only() {
    for kind in SinkKind::ALL {
        let plan = load(&minimal(kind)).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
        assert_eq!(plan.sinks[0].config.kind(), kind);
        assert_eq!(
            plan.sinks[0].config.rate(),
            crate::deliver::rate::default_rate(kind)
        );
        // A chat shows messages in the order they arrive: one send at a time (checked
        // before only for webhooks, so chats sending at once went unnoticed).
        let concurrency = plan.sinks[0].config.concurrency();
        match kind {
            SinkKind::Webhook => assert_eq!(concurrency, 8),
            _ => assert_eq!(concurrency, 1, "{}", kind.name()),
        }
    }
}

/// Regression: a key listed for a type but never read would be accepted and ignored. Every
/// listed key, given a value of the wrong type, must be reported at its own line.
#[test]
fn every_listed_key_is_read_and_checked() {
    for kind in SinkKind::ALL {
        for key in kind.keys() {
            let wrong = if key.kind == "boolean" {
                "\"x\""
            } else {
                "true"
            };
            let mut text = minimal(kind);
            // Replace a required key's value, or add the optional one, on the last line.
            text = text
                .lines()
                .filter(|l| !l.starts_with(&format!("{} =", key.name)))
                .collect::<Vec<_>>()
                .join("\n");
            text.push_str(&format!("\n{} = {wrong}\n", key.name));
            let line = text.lines().count();
            let err = load(&text).expect_err(&format!("{} {}", kind.name(), key.name));
            let at = format!("s.toml:{line}:");
            assert!(
                err.0.iter().any(|e| e.to_string().starts_with(&at)),
                "{} `{}` = {wrong}: no error at line {line}: {err}",
                kind.name(),
                key.name
            );
        }
    }
}

/// Regression: `Pace::of` fell back silently to the default on a rate it could not parse; a
/// bad value is a `check` error now, and a good one is what the dispatcher gets.
#[test]
fn rates_and_digest_thresholds_are_typed_at_load() {
    let plan = load(&format!(
        "{}rate = \"5/2s\"\ndigest_after = 9\n",
        minimal(SinkKind::Slack)
    ))
    .unwrap();
    let c = &plan.sinks[0].config;
    assert_eq!(c.rate().map(|r| r.written()), Some("5/2s".to_string()));
    assert_eq!(c.digest_after(), 9);
    let off = load(&format!("{}rate = \"off\"\n", minimal(SinkKind::Discord))).unwrap();
    assert_eq!(off.sinks[0].config.rate(), None);
    let hook = load(&format!("{}concurrency = 3\n", minimal(SinkKind::Webhook))).unwrap();
    assert_eq!(hook.sinks[0].config.concurrency(), 3);
    for bad in [
        "rate = \"fast\"",
        "rate = 5",
        "digest_after = 0",
        "digest_after = \"5\"",
    ] {
        let err = load(&format!("{}{bad}\n", minimal(SinkKind::Teams))).unwrap_err();
        assert!(err.to_string().contains("s.toml:5:"), "{bad}: {err}");
    }
}

#[test]
fn unknown_keys_name_the_nearest_and_every_accepted_one() {
    let err = load(&format!(
        "{}thread_nmae = \"x\"\n",
        minimal(SinkKind::Discord)
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "s.toml:5:1: unknown key `thread_nmae` for discord sink `s` (did you mean `thread_name`?); \
             it accepts: url, thread_id, thread_name, username, avatar_url, suppress_embeds, \
             silent, template, template_file, rate, digest_after"
        ),
        "{err}"
    );
    let err = load(&format!("{}url = \"x\"\n", minimal(SinkKind::Stdout)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("it accepts: no other settings"), "{err}");
}

/// The dependency runs one way: `config/` never names `deliver/` (it is handed a registry).
#[test]
fn config_imports_nothing_from_deliver() {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config"),
        &mut files,
    );
    assert!(!files.is_empty());
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains("deliver::"), "{} uses deliver/", f.display());
    }
}

const BEGIN: &str = "<!-- sink keys: generated from each sink module's KEYS; begin -->";
const END: &str = "<!-- sink keys: end -->";

/// `docs/configuration.md` lists, for every sink type, exactly the keys its module parses,
/// with their defaults. `NEWSWATCH_UPDATE_DOCS=1 cargo test` rewrites the tables.
#[test]
fn docs_configuration_lists_exactly_each_sinks_keys_and_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/configuration.md has no `{BEGIN}` … `{END}` block");
    };
    let want = SinkKind::docs_tables();
    let have = &doc[b + BEGIN.len()..e];
    if have.trim() != want.trim() {
        if std::env::var_os("NEWSWATCH_UPDATE_DOCS").is_some() {
            let updated = format!("{}{BEGIN}\n{}\n{}", &doc[..b], want.trim(), &doc[e..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!(
                "docs/configuration.md's sink tables differ from the sink modules' KEYS; \
                 run NEWSWATCH_UPDATE_DOCS=1 cargo test to regenerate. Expected:\n{want}"
            );
        }
    }
}

/// The defaults the docs state (from `KEYS`) are the ones the parser applies.
#[test]
fn documented_defaults_are_the_parsers() {
    let doc = |kind: SinkKind, key: &str| {
        let k = kind.keys().into_iter().find(|k| k.name == key).unwrap();
        kind.default_doc(&k)
    };
    let plan = |kind| load(&minimal(kind)).unwrap().sinks.remove(0).config;
    for kind in SinkKind::ALL.into_iter().filter(|k| k.is_chat()) {
        let c = plan(kind);
        assert_eq!(doc(kind, "digest_after"), c.digest_after().to_string());
        assert_eq!(
            doc(kind, "rate"),
            c.rate().map_or("off".into(), |r| r.written())
        );
    }
    let SinkConfig::Webhook(w) = plan(SinkKind::Webhook) else {
        unreachable!()
    };
    assert_eq!(
        doc(SinkKind::Webhook, "concurrency"),
        w.concurrency.to_string()
    );
    assert_eq!(doc(SinkKind::Webhook, "rate"), "off");
    assert_eq!(w.rate, None);
    let SinkConfig::Telegram(t) = plan(SinkKind::Telegram) else {
        unreachable!()
    };
    assert_eq!(doc(SinkKind::Telegram, "api_base"), t.api_base);
    assert_eq!(
        doc(SinkKind::Telegram, "link_preview"),
        t.link_preview.to_string()
    );
    assert_eq!(
        doc(SinkKind::Telegram, "disable_notification"),
        t.disable_notification.to_string()
    );
    let SinkConfig::Ntfy(n) = plan(SinkKind::Ntfy) else {
        unreachable!()
    };
    assert_eq!(doc(SinkKind::Ntfy, "server"), n.server);
    assert_eq!(doc(SinkKind::Ntfy, "tags"), "[]");
    assert!(n.tags.is_empty());
    let SinkConfig::Matrix(m) = plan(SinkKind::Matrix) else {
        unreachable!()
    };
    assert_eq!(doc(SinkKind::Matrix, "msgtype"), "\"text\"");
    assert_eq!(m.msgtype, "m.text");
    let SinkConfig::Discord(d) = plan(SinkKind::Discord) else {
        unreachable!()
    };
    assert_eq!(doc(SinkKind::Discord, "silent"), d.silent.to_string());
    assert_eq!(
        doc(SinkKind::Discord, "suppress_embeds"),
        d.suppress_embeds.to_string()
    );
}

/// Under [`Secrets::Unused`] an unresolvable reference reads as a placeholder that reaches no
/// host; an inline value is checked as always, and under [`Secrets::Needed`] the reference is
/// an error naming it.
#[test]
fn unused_secrets_may_be_missing_but_not_malformed() {
    let text = |url: &str| {
        format!(
            "[[sink]]\nname = \"s\"\ntype = \"webhook\"\nurl = \"{url}\"\nsecret = \"\"\n\n\
             [[sink]]\nname = \"t\"\ntype = \"telegram\"\nbot_token = \"env:NW_UNIT_UNSET_BOT\"\n\
             chat_id = \"1\"\n"
        )
    };
    let unused = Registry {
        secrets: Secrets::Unused,
    };
    let load_with = |types: &Registry, text: String| {
        crate::config::load_str(Path::new("s.toml"), text, types).map_err(|e| e.to_string())
    };
    // An empty inline `secret` is refused either way.
    let e = load_with(&unused, text("env:NW_UNIT_UNSET_URL")).unwrap_err();
    assert!(e.contains("sink `s`: `secret`"), "{e}");
    assert!(!e.contains("NW_UNIT_UNSET"), "{e}");
    let ok = text("env:NW_UNIT_UNSET_URL").replace("secret = \"\"\n", "");
    let plan = load_with(&unused, ok.clone()).unwrap();
    let SinkConfig::Webhook(w) = &plan.sinks[0].config else {
        panic!("not a webhook: {:?}", plan.sinks[0].config)
    };
    assert_eq!(w.url.expose(), "https://unresolved.invalid/");
    let e = load_with(&Registry::default(), ok.clone()).unwrap_err();
    assert!(e.contains("NW_UNIT_UNSET_URL"), "{e}");
    assert!(e.contains("NW_UNIT_UNSET_BOT"), "{e}");
    // `send-test t` needs only t's secrets.
    let only_t = Registry {
        secrets: Secrets::NeededBy("t".into()),
    };
    let e = load_with(&only_t, ok.clone()).unwrap_err();
    assert!(
        e.contains("NW_UNIT_UNSET_BOT") && !e.contains("NW_UNIT_UNSET_URL"),
        "{e}"
    );
    // A reference written wrong is an error either way.
    for bad in ["credential:a/b", "credential:", "env:", "file:"] {
        let e = load_with(&unused, ok.replace("env:NW_UNIT_UNSET_BOT", bad)).unwrap_err();
        assert!(e.contains("sink `t`: `bot_token`"), "{bad}: {e}");
    }
}
