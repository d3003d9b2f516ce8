"""DRF authentication by staff API token: `Authorization: Token <key>`, as with DRF's
authtoken, checked against the stored digest (accounts/services.py)."""

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.services import api_token_authenticate


class APITokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        token = api_token_authenticate(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (token.user, token)
