"""Sign-in: Streamlit's OIDC (`st.login`) when configured, roles from the access policy; off for the local demo."""

from __future__ import annotations

from collections.abc import Collection

import streamlit as st

from dashboard.components import error_panel
from dashboard.settings import access_file
from queries.errors import SourceError
from queries.sources.access import LOCAL_ADMIN, User, load_access_policy, sign_in_refusal


def signed_in_user() -> User | None:
    """The current user, or None after drawing what to do instead (sign in, ask for access, fix the config).

    Without an access policy (config/access.toml or BELLWETHER_ACCESS) there is no sign-in and the
    local user is an admin: the demo just works. With one, everyone signs in through the identity
    provider configured under [auth] in .streamlit/secrets.toml.
    """
    path = access_file()
    if path is None:
        return User(LOCAL_ADMIN, "admin")
    try:
        policy = load_access_policy(path)
    except SourceError as exc:
        error_panel("Access configuration is invalid", str(exc))
        return None
    if not st.user.is_logged_in:
        if not _sign_in_configured():
            error_panel(
                "Sign-in is not configured",
                f"{path} turns access control on, but .streamlit/secrets.toml has no [auth] section. "
                "Fix: configure your identity provider there (see .streamlit/secrets.example.toml), or remove the "
                "access file to run without sign-in.",
            )
            return None
        st.title("Bellwether")
        st.write("Sign in to see the dashboard.")
        st.button("Sign in", on_click=st.login, key="access.login", type="primary")
        return None
    refusal = sign_in_refusal(st.user)
    if refusal:
        error_panel(
            "Sign-in refused", f"{refusal} Fix: verify the address with your identity provider, then sign in again."
        )
        st.button("Sign out", on_click=st.logout, key="access.logout")
        return None
    email = str(st.user.get("email") or "")
    user = policy.user(email)
    if user is None:
        error_panel("No access", f"{email or 'This account'} is not listed in the access policy. Ask an admin.")
        st.button("Sign out", on_click=st.logout, key="access.logout")
        return None
    st.sidebar.caption(f"Signed in as {email} · {user.role}" + (f" · {user.vendor} only" if user.vendor else ""))
    st.sidebar.button("Sign out", on_click=st.logout, key="access.logout")
    return user


def check_access_vendors(known: Collection[str]) -> None:
    """SourceError naming the line when the access file names a vendor not among the source's `known` vendors.

    Call with the vendors of the source as loaded, before any vendor scoping: a misspelt vendor must stop the app
    with a clear message, not scope its users to nothing.
    """
    path = access_file()
    if path is not None:
        load_access_policy(path).check_vendors(set(known))


def _sign_in_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all
        return False
