// PLACEHOLDER: replaced by the server helper.
use crate::admit::Admitter;
use crate::cli::ServeArgs;
use std::sync::Arc;
pub async fn run(_args: &ServeArgs, _admitter: Arc<Admitter>) -> anyhow::Result<()> {
    todo!()
}
