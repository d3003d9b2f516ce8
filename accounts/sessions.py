"""A database session store that keeps only a digest of each session key.

Django's database store uses the cookie's value as the row's primary key, so a copy of the
django_session table holds a working cookie for everyone signed in. Here the row's key is
a digest of the cookie's value: the cookie still finds its row, the row gives no cookie.
Logging out (or a password change) deletes the row, so the session ends everywhere, which
signed-cookie sessions could not do. Keys are 32 characters, digests 40: the two never mix.
"""

import hashlib

from django.contrib.sessions.backends import db


def session_key_digest(session_key: str) -> str:
    # 160 bits of SHA-256 fit Django's 40-character session_key column.
    return hashlib.sha256(session_key.encode()).hexdigest()[:40]


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        key = self.session_key
        if key is None:
            return None
        # The base class reads self.session_key: give it the digest for this one query.
        self._session_key = session_key_digest(key)
        try:
            found = super()._get_session_from_db()
        finally:
            if self._session_key is not None:
                self._session_key = key
        return found

    def exists(self, session_key):
        return super().exists(session_key_digest(session_key))

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        instance.session_key = session_key_digest(instance.session_key)
        return instance

    def delete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        super().delete(session_key_digest(session_key))

    # The same four for the async API (config/asgi.py).

    async def _aget_session_from_db(self):
        key = self.session_key
        if key is None:
            return None
        self._session_key = session_key_digest(key)
        try:
            found = await super()._aget_session_from_db()
        finally:
            if self._session_key is not None:
                self._session_key = key
        return found

    async def aexists(self, session_key):
        return await super().aexists(session_key_digest(session_key))

    async def acreate_model_instance(self, data):
        instance = await super().acreate_model_instance(data)
        instance.session_key = session_key_digest(instance.session_key)
        return instance

    async def adelete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        await super().adelete(session_key_digest(session_key))
