//! The repository actor: the server's handlers send their database work here instead of holding
//! connections themselves. It owns the `Repo` (and through it the pool); each request runs as
//! its own future on the actor's arbiter, so a slow query never blocks the others.

use std::future::Future;
use std::pin::Pin;

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};

use crate::db::DbError;
use crate::repo::Repo;

pub struct RepoActor {
    repo: Repo,
}

type Job<T> = Box<dyn FnOnce(Repo) -> Pin<Box<dyn Future<Output = Result<T, DbError>>>> + Send>;

/// One unit of database work, typed by its result.
pub struct Run<T: 'static>(Job<T>);

impl<T: 'static> Message for Run<T> {
    type Result = Result<T, DbError>;
}

impl Actor for RepoActor {
    type Context = Context<Self>;
}

impl<T: Send + 'static> Handler<Run<T>> for RepoActor {
    type Result = ResponseFuture<Result<T, DbError>>;

    fn handle(&mut self, msg: Run<T>, _: &mut Self::Context) -> Self::Result {
        (msg.0)(self.repo.clone())
    }
}

/// What handlers hold: a cheap, cloneable address with one async method per query.
#[derive(Clone)]
pub struct RepoHandle {
    addr: Addr<RepoActor>,
}

impl RepoHandle {
    pub fn start(repo: Repo) -> Self {
        Self {
            addr: RepoActor { repo }.start(),
        }
    }

    /// Sends `job` to the actor and waits for its answer.
    pub async fn run<T, F, Fut>(&self, job: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(Repo) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, DbError>> + 'static,
    {
        let job: Job<T> = Box::new(move |repo| Box::pin(job(repo)));
        self.addr
            .send(Run(job))
            .await
            .map_err(|e| DbError::Pool(format!("repository actor is gone: {e}")))?
    }
}
