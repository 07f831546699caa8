"""A stand-in for the AWS sign-in service's federation endpoint, for `mfarole console` tests.

Runs inside moto_sts.py's process (moto_sts.py calls `start` after its setup), because what it
checks needs moto's own state. It checks what AWS documents for
`GET /federation?Action=getSigninToken` ("Enable custom identity broker access to the AWS
console"):

- `Session` is JSON with exactly `sessionId`, `sessionKey` and `sessionToken`, all strings;
- the session is live and was issued by the STS under test: GetCallerIdentity, signed with
  those credentials (boto3 against moto, auth enforced), must succeed, and the session must not
  have expired in moto's records;
- it is a role session (`assumed-role`) or a federation token (`federated-user`); an IAM user's
  session (GetSessionToken credentials) cannot sign in;
- `SessionDuration`, when present, is 900-43200 and the session is a role assumed with long-term
  keys (AWS fails the request for a chained role and for a federation token).

It answers `{"SigninToken": ...}`, or HTTP 400 with a short reason. Every request is appended
to the JSON-lines file named by MFAROLE_TEST_FEDERATION_LOG (what the tests read).

moto needs three patches for that, all here: it records whether each AssumeRole was signed with
a session token (chained); it accepts the fixed key of its GetFederationToken answer with that
answer's token (the key is the one of GetSessionToken, which moto_sts.py gives an IAM user);
and GetCallerIdentity with a federation token answers with the federated user's ARN, as STS
does.
"""
import datetime
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import boto3
import botocore.exceptions
from moto.core.responses import ActionResult
from moto.sts.models import STSBackend, sts_backends
from moto.sts.responses import TokenResponse

CHAINED = {}  # access key id of an assumed role -> signed with a session token?
FEDERATION = {"tokens": set(), "issued": []}  # tokens; [(name, expiration)]
STATE = {}


def patch(session_key, gst_token):
    from moto.iam import access_control

    original_ar = TokenResponse.assume_role

    def assume_role(self):
        chained = bool(self.headers.get("X-Amz-Security-Token"))
        result = original_ar(self)
        CHAINED[result.result["Credentials"].access_key_id] = chained
        return result

    TokenResponse.assume_role = assume_role

    original_backend_gft = STSBackend.get_federation_token

    def backend_gft(self, name, duration):
        token = original_backend_gft(self, name, duration)
        FEDERATION["issued"].append((name, token.expiration))
        return token

    STSBackend.get_federation_token = backend_gft

    original_gft = TokenResponse.get_federation_token

    def gft(self):
        result = original_gft(self)
        FEDERATION["tokens"].add(result.result["Credentials"]["SessionToken"])
        return result

    TokenResponse.get_federation_token = gft

    original_key = access_control.IAMUserAccessKey.__init__

    def key(self, account_id, partition, access_key_id, headers):
        token = headers.get("X-Amz-Security-Token")
        if access_key_id == session_key and token in FEDERATION["tokens"]:
            headers = dict(headers)
            headers["X-Amz-Security-Token"] = gst_token
        original_key(self, account_id, partition, access_key_id, headers)

    access_control.IAMUserAccessKey.__init__ = key

    original_gci = TokenResponse.get_caller_identity

    def gci(self):
        if self.headers.get("X-Amz-Security-Token") in FEDERATION["tokens"]:
            name = FEDERATION["issued"][-1][0]
            account = self.current_account
            return ActionResult({
                "UserId": f"{account}:{name}",
                "Account": account,
                "Arn": f"arn:aws:sts::{account}:federated-user/{name}",
            })
        return original_gci(self)

    TokenResponse.get_caller_identity = gci


def assumed_role(key_id, token):
    for account in sts_backends.values():
        for backend in account.values():
            for role in backend.assumed_roles:
                if role.access_key_id == key_id and role.session_token == token:
                    return role
    return None


def judge(query):
    """(status, reason, kind) for one getSigninToken query."""
    if any(len(v) != 1 for v in query.values()):
        return 400, "a parameter given twice", None
    q = {k: v[0] for k, v in query.items()}
    if q.get("Action") != "getSigninToken":
        return 400, "Action is not getSigninToken", None
    try:
        session = json.loads(q.get("Session", ""))
    except ValueError:
        return 400, "Session is not JSON", None
    keys = {"sessionId", "sessionKey", "sessionToken"}
    if not isinstance(session, dict) or set(session) != keys:
        return 400, "Session does not hold exactly sessionId, sessionKey, sessionToken", None
    if not all(isinstance(session[k], str) and session[k] for k in keys):
        return 400, "a Session value is empty or not a string", None
    duration = q.get("SessionDuration")
    if duration is not None and not (duration.isdigit() and 900 <= int(duration) <= 43200):
        return 400, "SessionDuration outside 900-43200", None
    kw = dict(endpoint_url=STATE["sts"], region_name="us-east-1",
              aws_access_key_id=session["sessionId"], aws_secret_access_key=session["sessionKey"],
              aws_session_token=session["sessionToken"])
    if STATE["tls"]:
        kw["verify"] = False
    try:
        arn = boto3.client("sts", **kw).get_caller_identity()["Arn"]
    except botocore.exceptions.ClientError as e:
        return 400, "STS refuses the credentials: " + e.response["Error"]["Code"], None
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    if ":assumed-role/" in arn:
        role = assumed_role(session["sessionId"], session["sessionToken"])
        if role is None or role.expiration.replace(tzinfo=None) <= now:
            return 400, "no live role session with these credentials", "role"
        if duration is not None and CHAINED.get(session["sessionId"], True):
            return 400, "SessionDuration with a chained role session", "role"
        return 200, "", "role"
    if ":federated-user/" in arn:
        expiration = FEDERATION["issued"][-1][1].replace(tzinfo=None)
        if expiration <= now:
            return 400, "the federation token has expired", "federation"
        if duration is not None:
            return 400, "SessionDuration with a federation token", "federation"
        return 200, "", "federation"
    return 400, "not a role or federation session (GetSessionToken credentials?)", "user"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        if url.path != "/federation":
            status, reason, kind = 404, "not /federation", None
        else:
            status, reason, kind = judge(query)
        session = {}
        try:
            session = json.loads(query.get("Session", [""])[0])
        except ValueError:
            pass
        entry = {"path": url.path, "params": sorted(query), "status": status, "reason": reason,
                 "kind": kind, "session_duration": query.get("SessionDuration", [None])[0],
                 "session": session if isinstance(session, dict) else {}}
        if status == 200:
            entry["token"] = secrets.token_urlsafe(24)
            body = json.dumps({"SigninToken": entry["token"]}).encode()
        else:
            body = reason.encode()
        with STATE["lock"]:
            with open(STATE["log"], "a") as f:
                f.write(json.dumps(entry) + "\n")
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start(sts_url, tls, log_path, session_key):
    """Patches moto, starts the stand-in on 127.0.0.1, returns its base URL. Call before auth
    is enforced (it asks moto for its fixed GetSessionToken token)."""
    kw = dict(endpoint_url=sts_url, region_name="us-east-1")
    if tls:
        kw["verify"] = False
    gst_token = boto3.client("sts", **kw).get_session_token()["Credentials"]["SessionToken"]
    patch(session_key, gst_token)
    STATE.update(sts=sts_url, tls=bool(tls), log=log_path or "/dev/null", lock=threading.Lock())
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"
