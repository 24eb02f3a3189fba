"""User accounts: creation, levels, the Can Push to Accounting privilege, project access."""
from __future__ import annotations

import re
import secrets
from functools import cache
from importlib import resources

from sqlalchemy import String, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from portal.domain.errors import Invalid, NotFound
from portal.domain.models import Project, ProjectMember, ToolLevel, User
from portal.domain.uow import transactional

USERNAME_RE = re.compile(r"^[a-z0-9_.-]{2,80}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
# as long as the columns hold (PostgreSQL refuses a longer value: a 500, not a message)
def _length(column) -> int:
    assert isinstance(column.type, String) and column.type.length
    return column.type.length


NAME_MAX = _length(User.__table__.c.name)
EMAIL_MAX = _length(User.__table__.c.email)
PASSWORD_MAX = 1000  # hashing a megabyte "password" is work for nothing
PASSWORD_MIN_LENGTH = 10
PASSWORD_MIN_DISTINCT = 5


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of passwords too common to allow (lowercased)."""
    text = resources.files("portal.domain").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def password_problem(password: str, username: str = "") -> str | None:
    """What is wrong with a new password, naming the rule; None when it may be used."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"At least {PASSWORD_MIN_LENGTH} characters."
    lowered = password.strip().lower()
    if username and lowered == username.strip().lower():
        return "The password must not be the username."
    if lowered in common_passwords():
        return "That password is one of the most common passwords; choose another."
    if len(set(password)) < PASSWORD_MIN_DISTINCT:
        return f"Use at least {PASSWORD_MIN_DISTINCT} different characters."
    return None


@cache
def _dummy_hash() -> str:
    """A hash of a random password, made like a real user's, checked when the username is unknown."""
    return generate_password_hash(secrets.token_urlsafe(16))


def authenticate(session: Session, username: str | None, password: str | None) -> User | None:
    """The active user with this username and password, else None. A password hash is checked
    whether or not the user exists, so the answer's timing does not tell which usernames do."""
    user = session.scalars(select(User).where(User.username == (username or "").strip().lower())).first()
    if user is None:
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    return user


def hash_password(password: str) -> str:
    """A password's hash, made as every user's is."""
    return generate_password_hash(password)


def new_session_token() -> str:
    return secrets.token_hex(16)


@transactional
def sign_out_everywhere(session: Session, user_id: int) -> None:
    """A new session token: every session (every copy of its cookie) of the user stops working."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_token = new_session_token()
        session.commit()


WRONG_CURRENT_PASSWORD = "That is not your current password."


@transactional
def change_password(session: Session, user_id: int, current: str, new: str, confirm: str) -> User:
    """The user's own password change: the current password, then the new one twice, checked by
    the rules of a new password. On success the session token is rotated in the same commit, so
    every session of the user ends; the caller signs its own browser in again with the new one.
    A wrong current password is an Invalid whose fields name `current_password`."""
    user = get_user(session, user_id)
    current, new, confirm = current or "", new or "", confirm or ""
    errors = {}
    if len(current) > PASSWORD_MAX or not check_password_hash(user.password_hash, current):
        errors["current_password"] = WRONG_CURRENT_PASSWORD
    if len(new) > PASSWORD_MAX:
        errors["new_password"] = f"At most {PASSWORD_MAX} characters."
    elif problem := password_problem(new, user.username):
        errors["new_password"] = problem
    elif new == current and "current_password" not in errors:
        errors["new_password"] = "The new password must differ from the current one."
    if "new_password" not in errors and confirm != new:
        errors["confirm_password"] = "The two new passwords differ."
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    user.password_hash = generate_password_hash(new)
    user.session_token = new_session_token()  # every other session (every copy of the cookie) ends
    session.commit()
    return user


def _check(fields: dict, creating: bool, username: str = "") -> dict:
    errors = {}
    if creating and not USERNAME_RE.match(fields.get("username", "")):
        errors["username"] = "2-80 characters: lowercase letters, digits, dot, dash, underscore."
    name, email = (fields.get("name") or "").strip(), (fields.get("email") or "").strip()
    if not name:
        errors["name"] = "Name is required."
    elif len(name) > NAME_MAX:
        errors["name"] = f"At most {NAME_MAX} characters."
    if len(email) > EMAIL_MAX:
        errors["email"] = f"At most {EMAIL_MAX} characters."
    elif not EMAIL_RE.match(email):
        errors["email"] = "Enter an email address."
    if fields.get("erp_level", ToolLevel.NONE) not in ToolLevel.ORDER:
        errors["erp_level"] = "Choose a level."
    password = fields.get("password") or ""
    if len(password) > PASSWORD_MAX:
        errors["password"] = f"At most {PASSWORD_MAX} characters."
    elif creating or password:
        problem = password_problem(password, username or fields.get("username", ""))
        if problem:
            errors["password"] = problem
    return errors


@transactional
def create_user(session: Session, *, username: str, name: str, email: str, password: str,
                erp_level: str = ToolLevel.NONE, can_push_to_accounting: bool = False,
                is_site_admin: bool = False) -> User:
    fields = dict(username=(username or "").strip().lower(), name=name, email=email,
                  password=password, erp_level=erp_level)
    errors = _check(fields, creating=True)
    if not errors and session.scalars(select(User).where(User.username == fields["username"])).first():
        errors["username"] = "That username is taken."
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    user = User(username=fields["username"], name=name.strip(), email=email.strip(),
                password_hash=generate_password_hash(password), erp_level=erp_level,
                can_push_to_accounting=can_push_to_accounting, is_site_admin=is_site_admin,
                active=True, session_token=new_session_token())
    session.add(user)
    session.commit()
    return user


@transactional
def update_user(session: Session, user_id: int, *, name: str, email: str, erp_level: str,
                can_push_to_accounting: bool, is_site_admin: bool, active: bool,
                password: str = "", project_levels: dict[int, str] | None = None) -> User:
    """Change a user and their project levels: everything is checked first, one commit."""
    user = get_user(session, user_id)
    project_levels = project_levels or {}
    errors = _check(dict(name=name, email=email, erp_level=erp_level, password=password),
                    creating=False, username=user.username)
    known = set(session.scalars(select(Project.id).where(Project.id.in_(list(project_levels)))))
    for project_id, level in project_levels.items():
        if project_id not in known:
            errors[f"project-{project_id}"] = "No such project."
        elif level not in ToolLevel.ORDER:
            errors[f"project-{project_id}"] = "Choose a level."
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)
    current = {m.project_id: m for m in session.scalars(
        select(ProjectMember).where(ProjectMember.user_id == user_id))}
    for project_id, level in project_levels.items():
        member = current.get(project_id)
        if member is None:
            member = ProjectMember(user_id=user_id, project_id=project_id)
            session.add(member)
        member.level = level
    user.name, user.email, user.erp_level = name.strip(), email.strip(), erp_level
    user.can_push_to_accounting, user.is_site_admin = can_push_to_accounting, is_site_admin
    if password or user.active != active:
        user.session_token = new_session_token()  # signs out existing sessions
    user.active = active
    if password:
        user.password_hash = generate_password_hash(password)
    session.commit()
    return user


def all_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def all_projects(session: Session) -> list[Project]:
    """Every project (a user's levels are set per project on the Users page)."""
    return list(session.scalars(select(Project).order_by(Project.number)))


def find_project(session: Session, number: str) -> Project:
    project = session.scalars(select(Project).where(Project.number == number)).first()
    if project is None:
        raise NotFound(f"No project numbered {number!r}.")
    return project


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


@transactional
def set_project_level(session: Session, user_id: int, project_id: int, level: str) -> None:
    if level not in ToolLevel.ORDER:
        raise Invalid("Choose a level.", fields={"level": "Choose a level."})
    if session.get(Project, project_id) is None:
        raise NotFound("No such project.")
    member = session.scalars(select(ProjectMember).where(
        ProjectMember.user_id == user_id, ProjectMember.project_id == project_id)).first()
    if member is None:
        member = ProjectMember(user_id=user_id, project_id=project_id)
        session.add(member)
    member.level = level
    session.commit()


def memberships(session: Session, user_id: int) -> dict[int, str]:
    return {m.project_id: m.level for m in session.scalars(
        select(ProjectMember).where(ProjectMember.user_id == user_id))}
