//! Any text, as a content-filter policy an admin saves: refused naming a line, or a policy
//! that checks any text (its own included) without panicking, its hits naming its own
//! categories.
#![no_main]

use app::ssr::content_filter::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (policy_text, sample) = text.split_once('\u{0}').unwrap_or((text, text));
    match Policy::parse(policy_text) {
        Ok(policy) => {
            let names: Vec<&str> = policy.categories.iter().map(|c| c.name.as_str()).collect();
            for probe in [sample, policy_text, ""] {
                let decision = policy.check(probe);
                for category in decision.categories() {
                    assert!(names.contains(&category), "{category:?} is one of the policy's");
                }
            }
        }
        Err(error) => assert!(error.line <= policy_text.lines().count()),
    }
});
