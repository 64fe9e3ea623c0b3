//! The chat template shipped in the GGUF (`tokenizer.chat_template`, Jinja), rendered with
//! minijinja: the model sees exactly the format it was fine-tuned on.

use super::LoadError;
use app::model::ChatMessage;
use minijinja::{Environment, Error, ErrorKind, context};

pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

const NAME: &str = "chat";

impl ChatTemplate {
    pub fn new(source: String, bos_token: String, eos_token: String) -> Result<Self, LoadError> {
        let mut env = Environment::new();
        // Templates written for Hugging Face call this to refuse a conversation they cannot
        // format; it becomes an error naming the problem.
        env.add_function("raise_exception", |message: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, message))
        });
        env.add_template_owned(NAME, source)
            .map_err(|err| LoadError::Metadata(format!("tokenizer.chat_template: {err}")))?;
        Ok(ChatTemplate { env, bos_token, eos_token })
    }

    /// The prompt for `messages`, ending where the assistant's next turn begins.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, String> {
        let template = self.env.get_template(NAME).map_err(|err| err.to_string())?;
        let messages: Vec<_> = messages
            .iter()
            .map(|m| context! { role => m.role.clone(), content => m.content.clone() })
            .collect();
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => true,
                bos_token => self.bos_token.clone(),
                eos_token => self.eos_token.clone(),
            })
            .map_err(|err| format!("chat template: {err}"))
    }
}

/// ChatML, for GGUF files that carry no template of their own.
pub const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_renders_turns_and_the_generation_prompt() {
        let template = ChatTemplate::new(CHATML.into(), String::new(), String::new()).unwrap();
        let prompt = template
            .render(&[ChatMessage::new("system", "Be brief."), ChatMessage::new("user", "Hi")])
            .unwrap();
        assert_eq!(
            prompt,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn raise_exception_becomes_an_error() {
        let source = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first turn must be the user') }}{% endif %}";
        let template = ChatTemplate::new(source.into(), String::new(), String::new()).unwrap();
        let err = template.render(&[ChatMessage::new("assistant", "x")]).unwrap_err();
        assert!(err.contains("first turn must be the user"), "{err}");
    }
}
