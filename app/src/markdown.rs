//! Markdown for reading: turns and guidelines render with lists, emphasis, tables and code
//! blocks. Raw HTML in the text is shown as text, never passed through, and links keep only
//! safe schemes, so nothing a user writes runs in another user's browser.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// Whether a link target is safe to follow: web and mail links, and links within Parley.
fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        // A colon before any slash, '?' or '#' is a scheme.
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => {
            matches!(scheme, "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// A text as HTML that reads as that text: `&`, `<`, `>` and quotes become references.
/// Leptos writes a `<textarea>`'s children unescaped (it is a raw-text element to it), so
/// a stored text shown in one goes through this and `inner_html`: the page's HTML holds
/// the escaped text, and a textarea's `innerHTML` set in the browser decodes it back.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders Markdown to HTML that is safe to insert into a page.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        // Raw HTML is text to show, escaped like any other.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) if !safe_url(&dest_url) => {
            Event::Start(Tag::Link { link_type, dest_url: CowStr::Borrowed("#"), title, id })
        }
        // Images would load from anywhere as the page opens: they become links.
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            let dest_url = if safe_url(&dest_url) { dest_url } else { CowStr::Borrowed("#") };
            Event::Start(Tag::Link { link_type, dest_url, title, id })
        }
        Event::End(pulldown_cmark::TagEnd::Image) => Event::End(pulldown_cmark::TagEnd::Link),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// A text the model stopped writing mid-way (at its token limit), with what it left open
/// closed, so it shows as it was meant rather than as raw marks: an open code fence, then
/// in the last paragraph an open inline code span and an odd `**` or `__`.
pub fn close_unfinished(text: &str) -> String {
    let mut out = text.to_string();
    let fences = text.lines().filter(|l| l.trim_start().starts_with("```")).count();
    if fences % 2 == 1 {
        out.push_str("\n```");
        return out;
    }
    let last = text.rsplit("\n\n").next().unwrap_or("");
    if last.matches('`').count() % 2 == 1 {
        out.push('`');
        return out;
    }
    // Marks inside inline code are not emphasis.
    let outside: String = last.split('`').step_by(2).collect();
    for mark in ["**", "__"] {
        if outside.matches(mark).count() % 2 == 1 {
            out.push_str(mark);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{close_unfinished, escape_text, to_html};

    #[test]
    fn a_cut_off_text_shows_no_raw_marks() {
        assert_eq!(
            to_html(&close_unfinished("Paris is **the capital")),
            "<p>Paris is <strong>the capital</strong></p>\n"
        );
        assert_eq!(close_unfinished("Done **well**."), "Done **well**.");
        assert_eq!(close_unfinished("Run:\n\n```sh\nls -"), "Run:\n\n```sh\nls -\n```");
        assert_eq!(close_unfinished("Use `let x = 1"), "Use `let x = 1`");
        assert_eq!(close_unfinished("Code `a ** b` is **bold"), "Code `a ** b` is **bold**");
        assert!(!to_html(&close_unfinished("One **two\n\nthree __four")).contains("__"));
    }

    #[test]
    fn escaped_text_cannot_close_its_element() {
        let text = "</textarea><script>alert('x')</script> & \"q\"";
        let html = escape_text(text);
        assert_eq!(
            html,
            "&lt;/textarea&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert!(!html.contains('<'));
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = to_html("Hi <script>alert(1)</script> <b onmouseover=x>bold</b>\n\n<div>block</div>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn unsafe_link_schemes_are_dropped() {
        let html = to_html(
            "[click](javascript:alert(1)) [ok](https://example.org) [x]( JAVASCRIPT:x) [rel](/write)",
        );
        assert!(!html.to_lowercase().contains("javascript:"), "{html}");
        assert!(html.contains(r#"href="https://example.org""#), "{html}");
        assert!(html.contains(r#"href="/write""#), "{html}");
        let image = to_html("![pixel](https://tracker.example/p.png)");
        assert!(!html.contains("<img") && !image.contains("<img"), "{image}");
    }

    #[test]
    fn code_blocks_lists_and_tables_render() {
        let html = to_html(
            "1. one\n2. two\n\n```rust\nfn main() { let a = 1 < 2; }\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        );
        assert!(html.contains("<ol>"), "{html}");
        assert!(html.contains(r#"<code class="language-rust">fn main() { let a = 1 &lt; 2; }"#), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }
}
