//! The default content policy against real prompts: the first human turn of each of the
//! 2,312 Anthropic HH-RLHF harmless-base test pairs (red-team style) and 250 Open-Assistant
//! prompts (ordinary requests). The flag rates are printed as figures; the test checks that
//! every prompt was read and that the red-team prompts are flagged more often than the
//! ordinary ones, not a tuned pass mark.

mod common;

use app::ssr::content_filter::{DEFAULT_POLICY, Policy};
use std::collections::BTreeMap;
use std::process::Command;

fn red_team_prompts() -> Vec<String> {
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(common::shared_data("hh-rlhf-harmless-base-test.jsonl.gz"))
        .output()
        .expect("gzip");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| {
            let pair: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            let chosen = pair["chosen"].as_str().expect("chosen");
            let human = chosen.split("\n\nHuman: ").nth(1).expect("a human turn");
            human.split("\n\nAssistant:").next().unwrap_or(human).trim().to_string()
        })
        .collect()
}

/// Prompts flagged, and flags per category.
fn flagged(policy: &Policy, prompts: &[String]) -> (usize, BTreeMap<String, usize>) {
    let mut count = 0;
    let mut per_category = BTreeMap::new();
    for prompt in prompts {
        let decision = policy.check(prompt);
        if decision.action().is_some() {
            count += 1;
        }
        for category in decision.categories() {
            *per_category.entry(category.to_string()).or_insert(0) += 1;
        }
    }
    (count, per_category)
}

#[test]
fn default_policy_flag_rates_on_real_prompts() {
    let policy = Policy::parse(DEFAULT_POLICY).expect("the default policy parses");
    let red = red_team_prompts();
    let ordinary = common::oasst_prompts();
    assert_eq!((red.len(), ordinary.len()), (2312, 250));
    let (red_flagged, red_categories) = flagged(&policy, &red);
    let (ordinary_flagged, ordinary_categories) = flagged(&policy, &ordinary);
    let rate = |n: usize, of: usize| 100.0 * n as f64 / of as f64;
    println!(
        "default policy: {red_flagged} of {} red-team prompts flagged ({:.1}%), {ordinary_flagged} of {} ordinary prompts ({:.1}%)",
        red.len(),
        rate(red_flagged, red.len()),
        ordinary.len(),
        rate(ordinary_flagged, ordinary.len()),
    );
    println!("red-team flags by category: {red_categories:?}");
    println!("ordinary flags by category: {ordinary_categories:?}");
    assert!(
        rate(red_flagged, red.len()) > rate(ordinary_flagged, ordinary.len()),
        "the red-team prompts should be flagged more often than ordinary ones"
    );
}
