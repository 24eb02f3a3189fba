"""User accounts: creation, levels, the Can Push to Accounting privilege, project access."""
from __future__ import annotations

import re
import secrets

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


def authenticate(session: Session, username: str | None, password: str | None) -> User | None:
    user = session.scalars(select(User).where(User.username == (username or "").strip().lower())).first()
    if user is None or not user.active or not check_password_hash(user.password_hash, password or ""):
        return None
    return user


def _check(fields: dict, creating: bool) -> dict:
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
    if (creating or password) and len(password) < 8:
        errors["password"] = "At least 8 characters."
    elif len(password) > PASSWORD_MAX:
        errors["password"] = f"At most {PASSWORD_MAX} characters."
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
                active=True, session_token=secrets.token_hex(8))
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
                    creating=False)
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
        user.session_token = secrets.token_hex(8)  # signs out existing sessions
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
