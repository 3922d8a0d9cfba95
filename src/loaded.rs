//! A model as the lifecycle manager holds it: in this process, or on an inference server.
//!
//! Owns [`Loaded`], which forwards the [`LanguageModel`] trait to either kind, so that the
//! engine and the router stay written once against the trait; and what a caller may ask of the
//! kind itself (whether token-level features such as the disk KV cache apply).

use std::path::Path;

use crate::model::{
    ChatApi, ChatMessage, GenerateOptions, Generation, LanguageModel, Logits, ModelError, OnToken,
    Pooling, Token,
};
use crate::remote::RemoteModel;

/// A loaded model: `M` in this process, or a model on a server.
#[derive(Debug)]
pub enum Loaded<M> {
    Local(M),
    Remote(RemoteModel),
}

impl<M> Loaded<M> {
    /// The served model, when this one runs on a server.
    pub fn remote(&self) -> Option<&RemoteModel> {
        match self {
            Loaded::Local(_) => None,
            Loaded::Remote(r) => Some(r),
        }
    }
}

/// Forwards one method to whichever kind of model this is.
macro_rules! forward {
    ($self:ident, $m:ident => $call:expr) => {
        match $self {
            Loaded::Local($m) => $call,
            Loaded::Remote($m) => $call,
        }
    };
}

impl<M: LanguageModel> LanguageModel for Loaded<M> {
    fn context_size(&self) -> usize {
        forward!(self, m => m.context_size())
    }

    fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, ModelError> {
        forward!(self, m => m.chat_prompt(messages))
    }

    fn tokenize(&self, text: &str, special: bool) -> Result<Vec<Token>, ModelError> {
        forward!(self, m => m.tokenize(text, special))
    }

    fn decode(&mut self, tokens: &[Token], start: usize, which: Logits) -> Result<(), ModelError> {
        forward!(self, m => m.decode(tokens, start, which))
    }

    fn logits(&self, row: usize) -> &[f32] {
        forward!(self, m => m.logits(row))
    }

    fn truncate(&mut self, from: usize) {
        forward!(self, m => m.truncate(from))
    }

    fn cached(&self) -> &[Token] {
        forward!(self, m => m.cached())
    }

    fn save_state(&self, path: &Path) -> Result<usize, ModelError> {
        forward!(self, m => m.save_state(path))
    }

    fn load_state(&mut self, path: &Path) -> Result<Vec<Token>, ModelError> {
        forward!(self, m => m.load_state(path))
    }

    fn chat_api(&mut self) -> Option<&mut dyn ChatApi> {
        forward!(self, m => m.chat_api())
    }

    fn is_end(&self, token: Token) -> bool {
        forward!(self, m => m.is_end(token))
    }

    fn push_piece(&self, token: Token, out: &mut Vec<u8>) {
        forward!(self, m => m.push_piece(token, out))
    }

    fn generate(
        &mut self,
        prompt: &[Token],
        options: &GenerateOptions,
        on_token: &mut OnToken<'_>,
    ) -> Result<Generation, ModelError> {
        forward!(self, m => m.generate(prompt, options, on_token))
    }

    fn label_scores(&mut self, prompt: &[Token], labels: &[&str]) -> Result<Vec<f32>, ModelError> {
        forward!(self, m => m.label_scores(prompt, labels))
    }

    fn embed(&mut self, text: &str, pooling: Pooling) -> Result<Vec<f32>, ModelError> {
        forward!(self, m => m.embed(text, pooling))
    }
}
