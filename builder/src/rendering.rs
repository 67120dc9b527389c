//! Rendering hooks and `/init`: the handlebars engine srbuild uses (strict, no HTML
//! escaping) and its `{{sh VALUE}}` helper, which quotes a value as one shell word.

use crate::context::TemplateContext;
use crate::error::{BuildError, Result};
use handlebars::Handlebars;

/// The `/init` template.
pub const INIT_TEMPLATE: &str = include_str!("../templates/init.sh.hbs");
/// Where [`INIT_TEMPLATE`] lives, for error messages.
pub const INIT_TEMPLATE_NAME: &str = "builder/templates/init.sh.hbs";

/// The template engine for hooks and `/init`: strict (a missing field is an error), no
/// HTML escaping (the output is shell), and `{{sh VALUE}}`, which renders a value as one
/// single-quoted shell word. Every value a template puts into shell code goes through it.
pub fn handlebars() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper("sh", Box::new(sh_helper));
    hb
}

/// Renders `text` (the template called `name`) against `ctx`; an error names the template.
pub fn render(hb: &Handlebars, name: &str, text: &str, ctx: &TemplateContext) -> Result<String> {
    hb.render_template(text, ctx)
        .map_err(|e| BuildError::Template {
            template: name.to_string(),
            message: e.to_string(),
        })
}

/// `s` as one POSIX shell word: single quotes, with `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn sh_helper(
    h: &handlebars::Helper,
    _: &Handlebars,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let v = h
        .param(0)
        .ok_or(handlebars::RenderErrorReason::ParamNotFoundForIndex(
            "sh", 0,
        ))?;
    let text = match v.value() {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains('\0') {
        return Err(handlebars::RenderErrorReason::Other(
            "a NUL byte cannot be part of a shell word".into(),
        )
        .into());
    }
    out.write(&shell_quote(&text))?;
    Ok(())
}
