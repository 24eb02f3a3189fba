"""Flask extensions, created unbound and initialised in create_app()."""
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_rq import RQ
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman
from flask_wtf import CSRFProtect

from portal.domain.models import Base

# Models are plain SQLAlchemy (portal.domain imports no Flask); the extension shares their metadata.
# db.session is a scoped_session; the domain's services take a plain Session, so callers pass
# db.session() -- the app context's current Session, the very object db.session proxies to.
db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()
login_manager = LoginManager()
htmx = HTMX()
csrf = CSRFProtect()
mail = Mail()
rq = RQ()
talisman = Talisman()
# No default limits: only the sign-in form is limited (portal/blueprints/auth/routes.py).
limiter = Limiter(key_func=get_remote_address, strategy="fixed-window")

# Only the portal's own files: no inline script or style (htmx's indicator style is off in
# base.html's htmx-config), no framing, forms post only here.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
