//! The secret input dialog: new / set / rotate, with a masked multi-line
//! value field (reveal toggle, paste, generated values), an optional
//! previous value for rotation, the envs a rotation walks through, and the
//! typed confirmation protected envs need. Pure: keys in, a decision out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;
use zeroize::Zeroize;

use crate::keymap::Key;
use crate::secrets::SecretValue;
use crate::secrets::generate::{Alphabet, generate};

/// Lengths ctrl-l cycles through for generated values.
pub const GEN_LENGTHS: [usize; 5] = [24, 32, 48, 64, 96];

/// What the form does when submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormKind {
    /// Add a secret (name typed in the form).
    New,
    /// Replace one secret's value.
    Set,
    /// Rotate one secret across envs, health-gated.
    Rotate,
}

/// Which field has the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Secret name (New only).
    Name,
    /// The new value.
    Value,
    /// The previous value (Rotate only, optional).
    Previous,
    /// Env checkboxes (Rotate only).
    Envs,
    /// Typed confirmation (protected envs only).
    Confirm,
}

/// One env a rotation can include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvChoice {
    /// Env name.
    pub name: String,
    /// Included.
    pub on: bool,
    /// Needs typed confirmation.
    pub protected: bool,
}

/// The open secret form. Its `Debug` never shows a value.
#[derive(Clone)]
pub struct SecretForm {
    /// What it does.
    pub kind: FormKind,
    /// The env it was opened on.
    pub env: String,
    /// Secret name (editable for New).
    pub name: TextArea<'static>,
    /// New value (masked unless revealed).
    pub value: TextArea<'static>,
    /// Previous value, for restoring after a failed gate (Rotate).
    pub previous: TextArea<'static>,
    /// Envs in rotation order (Rotate); the single env otherwise.
    pub envs: Vec<EnvChoice>,
    /// Cursor in the env list.
    pub env_cursor: usize,
    /// What the person typed to confirm.
    pub typed: String,
    /// Field with the cursor.
    pub field: Field,
    /// Values shown in clear.
    pub revealed: bool,
    /// Generated value length.
    pub gen_len: usize,
    /// Generated value alphabet.
    pub gen_alphabet: Alphabet,
    /// Whether the value field holds a generated value (shown as such).
    pub generated: bool,
    /// Why the last submit was refused.
    pub error: Option<String>,
}

/// What a key did to the form.
#[derive(Debug, PartialEq, Eq)]
pub enum FormEvent {
    /// Keep editing.
    Editing,
    /// Close without doing anything.
    Cancelled,
    /// Submit: checked and ready.
    Submit,
}

fn masked(placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_mask_char('•');
    t.set_placeholder_text(placeholder);
    // No undo history: it would keep copies of the value that are never wiped.
    t.set_max_histories(0);
    t
}

impl std::fmt::Debug for SecretForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let chars =
            |t: &TextArea<'static>| t.lines().iter().map(|l| l.chars().count()).sum::<usize>();
        f.debug_struct("SecretForm")
            .field("kind", &self.kind)
            .field("env", &self.env)
            .field("name", &self.name.lines())
            .field(
                "value",
                &format_args!("<{} chars, hidden>", chars(&self.value)),
            )
            .field(
                "previous",
                &format_args!("<{} chars, hidden>", chars(&self.previous)),
            )
            .field("envs", &self.envs)
            .field("field", &self.field)
            .field("revealed", &self.revealed)
            .field("generated", &self.generated)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl SecretForm {
    /// A form for `kind` on `env`; `name` is the selected secret (Set/Rotate),
    /// `envs` the rotation order with protection flags (the env itself first).
    pub fn new(kind: FormKind, env: &str, name: Option<&str>, envs: Vec<EnvChoice>) -> SecretForm {
        let mut name_area = TextArea::default();
        name_area.set_placeholder_text("NAME_IN_CAPS");
        if let Some(n) = name {
            name_area.insert_str(n);
        }
        let field = if kind == FormKind::New {
            Field::Name
        } else {
            Field::Value
        };
        SecretForm {
            kind,
            env: env.to_string(),
            name: name_area,
            value: masked("type or paste the value, or ctrl-g to generate one"),
            previous: masked("optional: the current value, to restore if a gate fails"),
            envs,
            env_cursor: 0,
            typed: String::new(),
            field,
            revealed: false,
            gen_len: 48,
            gen_alphabet: Alphabet::Alnum,
            generated: false,
            error: None,
        }
    }

    /// The secret's name as typed.
    pub fn name_text(&self) -> String {
        self.name.lines().join("").trim().to_string()
    }

    /// Envs the submit acts on, in order.
    pub fn chosen_envs(&self) -> Vec<String> {
        self.envs
            .iter()
            .filter(|e| e.on)
            .map(|e| e.name.clone())
            .collect()
    }

    /// What must be typed to confirm (the protected chosen envs, comma-joined), if anything.
    pub fn confirm_text(&self) -> Option<String> {
        let names: Vec<&str> = self
            .envs
            .iter()
            .filter(|e| e.on && e.protected)
            .map(|e| e.name.as_str())
            .collect();
        (!names.is_empty()).then(|| names.join(","))
    }

    fn fields(&self) -> Vec<Field> {
        let mut f = Vec::new();
        if self.kind == FormKind::New {
            f.push(Field::Name);
        }
        f.push(Field::Value);
        if self.kind == FormKind::Rotate {
            f.push(Field::Previous);
            f.push(Field::Envs);
        }
        if self.confirm_text().is_some() {
            f.push(Field::Confirm);
        }
        f
    }

    fn cycle_field(&mut self, forward: bool) {
        let fields = self.fields();
        let i = fields.iter().position(|f| *f == self.field).unwrap_or(0);
        let n = fields.len();
        self.field = fields[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
    }

    /// Handle a key.
    pub fn on_key(&mut self, key: Key) -> FormEvent {
        let ctrl = key.mods.contains(KeyModifiers::CONTROL);
        let alt = key.mods.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => return FormEvent::Cancelled,
            KeyCode::Tab => self.cycle_field(true),
            KeyCode::BackTab => self.cycle_field(false),
            KeyCode::Enter if alt => self.newline(),
            KeyCode::Enter => return self.check(),
            KeyCode::Char('n') if ctrl => self.newline(),
            KeyCode::Char('r') if ctrl => self.toggle_reveal(),
            KeyCode::Char('g') if ctrl => self.generate(),
            KeyCode::Char('l') if ctrl => {
                let i = GEN_LENGTHS
                    .iter()
                    .position(|l| *l == self.gen_len)
                    .unwrap_or(0);
                self.gen_len = GEN_LENGTHS[(i + 1) % GEN_LENGTHS.len()];
            }
            KeyCode::Char('a') if ctrl => self.gen_alphabet = self.gen_alphabet.next(),
            _ => self.edit(key),
        }
        FormEvent::Editing
    }

    /// Pasted text goes into the field with the cursor (newlines kept in values).
    pub fn on_paste(&mut self, text: &str) {
        match self.field {
            Field::Value => {
                self.generated = false;
                self.value.insert_str(text);
            }
            Field::Previous => {
                self.previous.insert_str(text);
            }
            Field::Name => {
                self.name.insert_str(text.lines().next().unwrap_or(""));
            }
            Field::Confirm => self.typed.push_str(text.lines().next().unwrap_or("")),
            Field::Envs => {}
        }
    }

    fn newline(&mut self) {
        match self.field {
            Field::Value => self.value.insert_newline(),
            Field::Previous => self.previous.insert_newline(),
            _ => {}
        }
    }

    fn toggle_reveal(&mut self) {
        self.revealed = !self.revealed;
        for area in [&mut self.value, &mut self.previous] {
            if self.revealed {
                area.clear_mask_char();
            } else {
                area.set_mask_char('•');
            }
        }
    }

    fn generate(&mut self) {
        match generate(self.gen_len, self.gen_alphabet) {
            Ok(v) => {
                wipe(&mut self.value);
                self.value = masked("");
                if self.revealed {
                    self.value.clear_mask_char();
                }
                self.value.insert_str(v.expose());
                self.generated = true;
                self.field = Field::Value;
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn edit(&mut self, key: Key) {
        let event = KeyEvent::new(key.code, key.mods);
        match self.field {
            Field::Name => {
                self.name.input(event);
            }
            Field::Value => {
                self.generated = false;
                self.value.input(event);
            }
            Field::Previous => {
                self.previous.input(event);
            }
            Field::Envs => match key.code {
                KeyCode::Left | KeyCode::Up | KeyCode::Char('k') | KeyCode::Char('h') => {
                    self.env_cursor = self.env_cursor.saturating_sub(1)
                }
                KeyCode::Right | KeyCode::Down | KeyCode::Char('j') | KeyCode::Char('l') => {
                    self.env_cursor = (self.env_cursor + 1).min(self.envs.len().saturating_sub(1))
                }
                KeyCode::Char(' ') | KeyCode::Char('x') => {
                    if let Some(e) = self.envs.get_mut(self.env_cursor) {
                        e.on = !e.on;
                    }
                }
                _ => {}
            },
            Field::Confirm => match key.code {
                KeyCode::Char(c) if !key.mods.contains(KeyModifiers::CONTROL) => self.typed.push(c),
                KeyCode::Backspace => {
                    self.typed.pop();
                }
                _ => {}
            },
        }
    }

    /// Check the form; on success the caller takes the values with [`SecretForm::take_values`].
    fn check(&mut self) -> FormEvent {
        let problem = if let Some(why) = crate::engine::secrets::invalid_name(&self.name_text()) {
            Some((Field::Name, why))
        } else if self.value.is_empty() || self.value.lines().iter().all(String::is_empty) {
            Some((
                Field::Value,
                "the value is empty: type or paste one, or press ctrl-g to generate one".into(),
            ))
        } else if self.chosen_envs().is_empty() {
            Some((
                Field::Envs,
                "choose at least one env (space toggles)".into(),
            ))
        } else {
            self.confirm_text()
                .filter(|e| *e != self.typed)
                .map(|expected| {
                    (
                        Field::Confirm,
                        format!("type `{expected}` to confirm the change in a protected env"),
                    )
                })
        };
        match problem {
            Some((field, why)) => {
                self.field = if self.fields().contains(&field) {
                    field
                } else {
                    self.field
                };
                self.error = Some(why);
                FormEvent::Editing
            }
            None => FormEvent::Submit,
        }
    }

    /// Take the new and previous values out of the form, wiping its buffers.
    pub fn take_values(&mut self) -> (SecretValue, Option<SecretValue>) {
        let value = SecretValue::new(take_text(&mut self.value));
        let previous = take_text(&mut self.previous);
        let previous = (!previous.is_empty()).then(|| SecretValue::new(previous));
        (value, previous)
    }

    /// Wipe every value buffer (on cancel or after submit).
    pub fn wipe(&mut self) {
        wipe(&mut self.value);
        wipe(&mut self.previous);
    }
}

impl Drop for SecretForm {
    fn drop(&mut self) {
        self.wipe();
    }
}

fn take_text(area: &mut TextArea<'static>) -> String {
    let lines = std::mem::take(area).into_lines();
    let text = lines.join("\n");
    for mut l in lines {
        l.zeroize();
    }
    text
}

fn wipe(area: &mut TextArea<'static>) {
    let mut text = take_text(area);
    text.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value_and_no_undo_copy_is_kept() {
        let mut form = SecretForm::new(FormKind::New, "staging", None, Vec::new());
        form.value.insert_str("sk_live_51SuperSecretValue");
        let shown = format!("{form:?}");
        assert!(!shown.contains("SuperSecret"), "{shown}");
        assert!(shown.contains("26 chars, hidden"), "{shown}");
        // Undo would bring a wiped value back: there is no history to undo into.
        assert!(!form.value.undo());
    }

    fn envs() -> Vec<EnvChoice> {
        vec![
            EnvChoice {
                name: "staging".into(),
                on: true,
                protected: false,
            },
            EnvChoice {
                name: "production".into(),
                on: true,
                protected: true,
            },
        ]
    }

    fn type_str(form: &mut SecretForm, s: &str) {
        for c in s.chars() {
            form.on_key(Key::char(c));
        }
    }

    #[test]
    fn rotation_needs_a_value_and_the_typed_env() {
        let mut f = SecretForm::new(FormKind::Rotate, "staging", Some("JWT_SECRET_KEY"), envs());
        assert_eq!(f.on_key(Key::code(KeyCode::Enter)), FormEvent::Editing);
        assert!(f.error.as_deref().unwrap().contains("empty"));
        type_str(&mut f, "s3cret-value-that-is-long");
        assert_eq!(f.on_key(Key::code(KeyCode::Enter)), FormEvent::Editing);
        assert_eq!(f.field, Field::Confirm);
        assert!(f.error.as_deref().unwrap().contains("type `production`"));
        type_str(&mut f, "production");
        assert_eq!(f.on_key(Key::code(KeyCode::Enter)), FormEvent::Submit);
        let (v, prev) = f.take_values();
        assert_eq!(v.expose(), "s3cret-value-that-is-long");
        assert!(prev.is_none());
        assert!(f.value.is_empty());
    }

    #[test]
    fn unticking_production_drops_the_confirmation() {
        let mut f = SecretForm::new(FormKind::Rotate, "staging", Some("JWT_SECRET_KEY"), envs());
        f.on_key(Key::ctrl('g'));
        assert!(f.generated);
        assert_eq!(f.value.lines().join("").len(), 48);
        f.field = Field::Envs;
        f.on_key(Key::code(KeyCode::Right));
        f.on_key(Key::char(' '));
        assert_eq!(f.chosen_envs(), ["staging"]);
        assert_eq!(f.on_key(Key::code(KeyCode::Enter)), FormEvent::Submit);
    }

    #[test]
    fn new_secret_checks_the_name_and_keeps_pasted_newlines() {
        let mut f = SecretForm::new(
            FormKind::New,
            "dev",
            None,
            vec![EnvChoice {
                name: "dev".into(),
                on: true,
                protected: false,
            }],
        );
        type_str(&mut f, "bad-name");
        f.on_key(Key::code(KeyCode::Tab));
        f.on_paste("-----BEGIN KEY-----\nabc\n-----END KEY-----");
        assert_eq!(f.on_key(Key::code(KeyCode::Enter)), FormEvent::Editing);
        assert_eq!(f.field, Field::Name);
        assert!(f.error.as_deref().unwrap().contains("invalid secret name"));
        for _ in 0..8 {
            f.on_key(Key::code(KeyCode::Backspace));
        }
        type_str(&mut f, "TLS_KEY");
        assert_eq!(f.on_key(Key::code(KeyCode::Enter)), FormEvent::Submit);
        assert_eq!(f.name_text(), "TLS_KEY");
        assert_eq!(
            f.take_values().0.expose(),
            "-----BEGIN KEY-----\nabc\n-----END KEY-----"
        );
    }

    #[test]
    fn reveal_and_generator_settings_toggle() {
        let mut f = SecretForm::new(FormKind::Set, "dev", Some("X_KEY"), envs());
        f.on_key(Key::ctrl('r'));
        assert!(f.revealed);
        f.on_key(Key::ctrl('l'));
        assert_eq!(f.gen_len, 64);
        f.on_key(Key::ctrl('a'));
        assert_eq!(f.gen_alphabet, Alphabet::Hex);
        assert_eq!(f.on_key(Key::code(KeyCode::Esc)), FormEvent::Cancelled);
    }
}
