//! Chat templates come from model files, so they are hostile input (issue
//! #11): sandbox escapes, file access, runaway recursion, huge values and
//! deeply nested expressions must each end in an error (or a harmless
//! render) within a second, leak nothing, and leave the process able to
//! render the next, ordinary template.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chat::{ChatError, ChatTemplate, RenderOptions};
use serde_json::json;

/// The bound the issue sets for each case.
const LIMIT: Duration = Duration::from_secs(1);
/// For cases that run the fuel dry (a few tenths of a second alone), with
/// room for a loaded machine.
const FUEL_LIMIT: Duration = Duration::from_secs(2);

fn messages() -> serde_json::Value {
    json!([
        {"role": "system", "content": "/etc/passwd"},
        {"role": "user", "content": "Bonjour"},
    ])
}

/// One hostile render at a time, so that their timings do not depend on
/// how many run in parallel.
static SERIAL: Mutex<()> = Mutex::new(());

/// Compiles and renders `src`; checks the time and that nothing leaked.
fn run(src: &str, limit: Duration) -> Result<String, ChatError> {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let start = Instant::now();
    let out = ChatTemplate::new(src).and_then(|t| t.render(&messages(), &RenderOptions::default()));
    let elapsed = start.elapsed();
    let shown: String = src.chars().take(60).collect();
    assert!(elapsed < limit, "{shown}: took {elapsed:?}");
    let text = match &out {
        Ok(text) => text.clone(),
        Err(e) => e.to_string(),
    };
    assert!(!text.contains("root:"), "{shown}: leaked a file");
    if let Ok(text) = &out {
        // (An error may name the attribute it refused.)
        assert!(!text.contains("__"), "{shown}: leaked internals: {text:.80}");
    }
    assert!(
        !text.contains('\n') || out.is_ok(),
        "{shown}: multi-line error {text:?}"
    );
    if let Some(home) = std::env::var_os("HOME").filter(|h| h.len() > 4) {
        assert!(
            !text.contains(&*home.to_string_lossy()),
            "{shown}: leaked the environment"
        );
    }
    out
}

/// An ordinary template, to check the engine still works.
fn ordinary_render() {
    let t = ChatTemplate::builtin("qwen2");
    let out = t
        .render(
            &json!([{"role": "user", "content": "hi"}]),
            &RenderOptions {
                add_generation_prompt: true,
                ..RenderOptions::default()
            },
        )
        .expect("the built-in template renders");
    assert_eq!(out, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

fn deep(open: &str, middle: &str, close: &str, n: usize) -> String {
    format!("{}{middle}{}", open.repeat(n), close.repeat(n))
}

/// The cases issue #11 lists, each within a second.
#[test]
fn the_issues_cases_end_within_a_second() {
    let nested = format!("{{{{ {}1{} }}}}", "(".repeat(1000), ")".repeat(1000));
    let chain = format!("{{{{ {}1 }}}}", "-".repeat(20_000));
    for src in [
        "{{ ''.__class__.__mro__ }}",
        "{{ lipsum.__globals__ }}",
        "{% include '/etc/passwd' %}",
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "{{ 'a' * 10**10 }}",
        nested.as_str(),
        chain.as_str(),
    ] {
        if let Ok(text) = run(src, LIMIT) {
            // Only the harmless ones may render, and to nothing useful.
            assert!(text.is_empty() || text == "1", "{src:.40}: {text:.80}");
        }
    }
    ordinary_render();
}

#[test]
fn python_object_escapes_reach_nothing() {
    for src in [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__.__base__.__subclasses__()[40]('/etc/passwd').read() }}",
        "{{ lipsum.__globals__ }}",
        "{{ lipsum.__globals__['os'].popen('cat /etc/passwd').read() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ joiner.__init__.__globals__ }}{{ namespace.__init__.__globals__ }}",
        "{{ self.__init__.__globals__.__builtins__ }}",
        "{{ config.items() }}{{ request.environ }}{{ range.__self__ }}",
        "{{ messages.__class__ }}{{ raise_exception.__globals__ }}",
        "{{ debug() }}",
        "{{ messages|pprint }}",
    ] {
        run(src, LIMIT).ok();
    }
    ordinary_render();
}

#[test]
fn no_file_is_ever_read() {
    for src in [
        "{% include '/etc/passwd' %}",
        "{% include '../../../../../../etc/passwd' %}",
        "{% include messages[0].content %}",
        "{% import '/etc/passwd' as p %}{{ p }}",
        "{% from '/etc/passwd' import root %}{{ root }}",
        "{% extends '/etc/passwd' %}",
        "{% extends messages[0].content %}{% block x %}{% endblock %}",
        "{% include ['/etc/shadow', '/etc/passwd'] ignore missing %}",
    ] {
        let out = run(src, LIMIT);
        // Only "ignore missing" may render, and then to nothing.
        if let Ok(text) = out {
            assert_eq!(text, "", "{src}");
        }
    }
    ordinary_render();
}

#[test]
fn runaway_recursion_is_an_error() {
    for src in [
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "{% macro f() %}{{ f() }}{{ f() }}{% endmacro %}{{ f() }}",
        "{% macro a(n) %}{{ b(n) }}{% endmacro %}{% macro b(n) %}{{ a(n) }}{% endmacro %}{{ a(0) }}",
        "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
        "{% macro f() %}{% call f() %}x{% endcall %}{% endmacro %}{{ f() }}",
    ] {
        assert!(run(src, LIMIT).is_err(), "{src}");
    }
    ordinary_render();
}

#[test]
fn huge_values_are_refused() {
    for src in [
        "{{ 'a' * 10**10 }}",
        "{% for i in range(100) %}{{ 'a' * 10**7 }}{% endfor %}",
        "{{ [1] * 10**10 }}",
        "{{ ([1, 2] * 10**7)|join(',') }}",
        "{{ range(10**10) }}",
        "{{ 2**100000 }}",
        "{{ 10**10**10 }}",
        "{{ ('a' * 10**6)|replace('a', 'a' * 10**6) }}",
        "{{ 'x'|indent(10**10) }}",
        "{{ '%10000000000s'|format('x') }}",
        "{{ strftime_now('%Y' * 10**8) }}",
        "{{ raise_exception('x' * 10**9) }}",
    ] {
        assert!(run(src, FUEL_LIMIT).is_err(), "{src}");
    }
    ordinary_render();
}

#[test]
fn deeply_nested_expressions_fail_or_render_without_overflowing_the_stack() {
    let cases = [
        format!("{{{{ {} }}}}", deep("(", "1", ")", 10_000)),
        format!("{{{{ {} }}}}", deep("[", "1", "]", 10_000)),
        format!("{{{{ {} }}}}", deep("{'a': ", "1", "}", 10_000)),
        deep("{% if true %}", "x", "{% endif %}", 10_000),
        deep("{% for x in messages %}", "x", "{% endfor %}", 5_000),
        deep("{% macro m() %}", "x", "{% endmacro %}", 5_000),
        // Chains minijinja's parser limit does not see: one nesting level per
        // token, which overflowed a 2 MiB stack at about 5,000 levels.
        format!("{{{{ {}1 }}}}", "-".repeat(100_000)),
        format!("{{{{ {}1 }}}}", "not ".repeat(50_000)),
        format!("{{{{ 1{} }}}}", " ~ 1".repeat(50_000)),
        format!("{{{{ 1{} }}}}", " + 1".repeat(50_000)),
        format!("{{{{ {}1 }}}}", "1 if x else ".repeat(20_000)),
        format!("{{{{ x{} }}}}", "()".repeat(100_000)),
        format!("{{{{ x{} }}}}", ".a".repeat(100_000)),
        format!("{{{{ x{} }}}}", "[0]".repeat(80_000)),
        format!("{{{{ x{} }}}}", "|trim".repeat(50_000)),
        format!("{{{{ x{} }}}}", " is defined".repeat(20_000)),
    ];
    for src in &cases {
        // Rendering a 50,000-term sum is legitimate work; it only has to
        // finish and not bring the process down.
        let _ = run(src, LIMIT);
    }
    ordinary_render();
}

/// Values a loop nests inside each other, as deep as the fuel allows: their
/// destructors and serializers recurse once per level.
#[test]
fn values_nested_by_a_loop_do_not_overflow_the_stack() {
    for src in [
        "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% for j in range(100000) %}\
         {% set ns.x = [ns.x] %}{% endfor %}{% endfor %}",
        "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% for j in range(100000) %}\
         {% set ns.x = {'k': ns.x} %}{% endfor %}{% endfor %}",
        "{% set ns = namespace(x=[]) %}{% for i in range(40000) %}{% set ns.x = [ns.x] %}{% endfor %}\
         {{ ns.x|tojson|length }}{{ ns.x|string|length }}{{ ns.x == ns.x }}{{ ns.x|length }}",
    ] {
        let _ = run(src, FUEL_LIMIT);
    }
    ordinary_render();
}

/// Since minijinja 3 the fuel also counts bytes: a string doubled in a loop
/// (which version 2 let grow until the process ran out of memory) is
/// stopped after about a hundred MB.
#[test]
fn a_string_doubled_in_a_loop_runs_out_of_fuel() {
    let src =
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}\
               {{ ns.s|length }}";
    let err = run(src, FUEL_LIMIT).expect_err("2^65 bytes");
    assert!(err.to_string().contains("fuel"), "{err}");
    let src = "{% for i in range(100000) %}{{ 'a' * 100000 }}{% endfor %}";
    assert!(run(src, FUEL_LIMIT).is_err());
    // Built by the template's own filter, indented JSON pays for itself.
    let src = "{% set ns = namespace(x=[]) %}{% for i in range(20000) %}{% set ns.x = [ns.x] %}{% endfor %}\
               {{ ns.x|tojson(indent=16)|length }}";
    assert!(run(src, FUEL_LIMIT).is_err());
    ordinary_render();
}

#[test]
fn runaway_loops_run_out_of_fuel() {
    for src in [
        "{% for i in range(100000000) %}{{ i }}{% endfor %}",
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
        "{% for m in messages * 100000 %}{% for n in messages * 100000 %}{{ n }}{% endfor %}{% endfor %}",
    ] {
        assert!(run(src, FUEL_LIMIT).is_err(), "{src}");
    }
    ordinary_render();
}

#[test]
fn oversized_sources_are_refused() {
    let src = format!("{{# {} #}}", "x".repeat(300 * 1024));
    let err = run(&src, LIMIT).expect_err("too long");
    assert!(matches!(err, ChatError::Compile(_)), "{err}");
}

/// A message raised by the template is shown on one line, escaped and cut.
#[test]
fn raised_messages_are_one_line() {
    let err = run("{{ raise_exception('a\\nb\\u001b[31m' ~ 'c' * 5000) }}", LIMIT).expect_err("raises");
    let ChatError::Raised(msg) = &err else {
        panic!("{err:?}");
    };
    assert!(msg.starts_with("a\\nb\\u{1b}[31mccc"), "{msg:.40}");
    assert!(msg.len() < 1100, "{}", msg.len());
}

/// A hostile template rendering on other threads does not stop ordinary
/// renders: each runs on its own thread, with its own fuel.
#[test]
fn other_renders_are_still_served() {
    let hostile = [
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    ];
    std::thread::scope(|s| {
        for src in hostile {
            s.spawn(move || run(src, FUEL_LIMIT).is_err());
        }
        for _ in 0..20 {
            ordinary_render();
        }
    });
    ordinary_render();
}
