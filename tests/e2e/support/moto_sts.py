#!/usr/bin/env python3
"""STS for mfarole's tests: moto's server on 127.0.0.1, a free port, IAM auth enforced.

It runs moto's own server (the WSGI app behind `moto_server`) in this process, so that it can
give an IAM user the fixed key pair that moto's GetSessionToken always returns. With that,
credentials from GetSessionToken are real to moto's auth layer, and an AssumeRole signed with
them is verified like any other request: a role that trusts only that "session user" can be
assumed only through an MFA session.

Protocol: prints `name value` lines (port, keys, ARNs) and then `ready` on stdout, then serves
until stdin closes (the test process exits or drops the pipe), so it never outlives its test.
Every request is recorded by moto's recorder (MOTO_RECORDER_FILEPATH); the line `count` on
stdin answers with `count ACTION=N ...`, the STS actions in that recording, and `forms ACTION`
with one line `forms N`, then N lines of JSON: the form fields of each such request, in order.
"""
import json
import os
import sys
import threading

os.environ.setdefault("MOTO_ENABLE_RECORDING", "True")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "setup")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "setup")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
from moto.moto_api import recorder  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

SESSION_KEY = "AKIAIOSFODNN7EXAMPLE"
SESSION_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"

ALLOW_STS = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["sts:*"], "Resource": "*"}],
})


def trust(*principals, external_id=None):
    stmt = {
        "Effect": "Allow",
        "Principal": {"AWS": list(principals)},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        stmt["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def main():
    tls = None
    if len(sys.argv) == 3:
        tls = (sys.argv[1], sys.argv[2])
    server = start(tls)
    host, port = server.get_host_and_port()
    scheme = "https" if tls else "http"
    url = f"http://127.0.0.1:{port}" if not tls else f"https://localhost:{port}"
    info = setup(url, tls)
    # The sign-in service's federation endpoint, for `mfarole console` (federation.py).
    import federation
    info["federation"] = federation.start(
        url, tls, os.environ.get("MFAROLE_TEST_FEDERATION_LOG"), SESSION_KEY)
    # Only requests made after setup are counted.
    recorder.reset_recording()
    # From here on every request must be signed by a known key.
    from moto import settings
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    info.update(port=port, url=f"{scheme}://{'localhost' if tls else '127.0.0.1'}:{port}")
    for k, v in flatten(info):
        print(k, v)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            counts = count_actions(os.environ["MOTO_RECORDER_FILEPATH"])
            print("count " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())), flush=True)
        elif line.startswith("forms "):
            forms = recorded_forms(os.environ["MOTO_RECORDER_FILEPATH"], line.split()[1])
            print(f"forms {len(forms)}", flush=True)
            for form in forms:
                print(json.dumps(form), flush=True)
    os._exit(0)


def flatten(info, prefix=""):
    for k, v in info.items():
        if isinstance(v, dict):
            yield from flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def recorded_bodies(path):
    """The form bodies in moto's recording, parsed, in order."""
    import base64
    from urllib.parse import parse_qs
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        yield {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def count_actions(path):
    """STS actions in moto's recording, by name."""
    counts = {}
    for form in recorded_bodies(path):
        action = form.get("Action", "?")
        counts[action] = counts.get(action, 0) + 1
    return counts


def recorded_forms(path, action):
    """The form fields of every recorded request for `action`."""
    return [f for f in recorded_bodies(path) if f.get("Action") == action]


def start(tls):
    if not tls:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        return server
    # moto's threaded server has no TLS option; serve the same app with an ssl context.
    import ssl
    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls[0], tls[1])
    srv = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), True, ssl_context=ctx)
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    class Wrapped:
        def get_host_and_port(self):
            return srv.server_address[:2]

    return Wrapped()


def accept_session_token(token):
    """moto refuses any AKIA key that comes with a session token. Let the GetSessionToken key
    through when (and only when) it carries the token GetSessionToken issued; its signature is
    then checked with its secret like any other."""
    from moto.iam import access_control
    original = access_control.IAMUserAccessKey.__init__

    def init(self, account_id, partition, access_key_id, headers):
        if access_key_id == SESSION_KEY:
            if headers.get("X-Amz-Security-Token") != token:
                raise access_control.CreateAccessKeyFailure(reason="InvalidToken")
            headers = {k: v for k, v in headers.items() if k != "X-Amz-Security-Token"}
        original(self, account_id, partition, access_key_id, headers)

    access_control.IAMUserAccessKey.__init__ = init


WEB_TOKEN_PREFIX = "test-oidc-"


def web_identity_unsigned():
    """AssumeRoleWithWebIdentity is an unsigned call on AWS (the token is the proof), but moto
    with auth enforced asks it for a signature. Let it through unsigned, and play the identity
    provider's part: only tokens that start with WEB_TOKEN_PREFIX are valid."""
    from moto.core.responses import ActionAuthenticatorMixin
    from moto.core.exceptions import _RESTError

    class InvalidIdentityToken(_RESTError):
        code = 400

        def __init__(self):
            super().__init__("InvalidIdentityToken", "Couldn't verify the token's signature")

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def check(self, iam_request_cls, resource="*"):
        if self._get_action() == "AssumeRoleWithWebIdentity":
            token = (self.querystring.get("WebIdentityToken") or [""])[0]
            if not token.startswith(WEB_TOKEN_PREFIX):
                raise InvalidIdentityToken()
            return None
        return original(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = check


def setup(url, tls):
    kw = dict(endpoint_url=url, region_name="us-east-1")
    if tls:
        kw["verify"] = False
    iam = boto3.client("iam", **kw)
    users = {}
    for name in ["jones", "smith", "outsider"]:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="sts", PolicyDocument=ALLOW_STS)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        users[name] = {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"],
                       "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}"}
    mfa = iam.create_virtual_mfa_device(VirtualMFADeviceName="jones")["VirtualMFADevice"]
    iam.enable_mfa_device(UserName="jones", SerialNumber=mfa["SerialNumber"],
                          AuthenticationCode1="123456", AuthenticationCode2="654321")

    # The owner of the key pair that moto's GetSessionToken hands out.
    iam.create_user(UserName="jones-mfa-session")
    iam.put_user_policy(UserName="jones-mfa-session", PolicyName="sts", PolicyDocument=ALLOW_STS)
    iam.create_access_key(UserName="jones-mfa-session")
    backend = iam_backends[ACCOUNT]["global"]
    user = backend.get_user("jones-mfa-session")
    key = user.access_keys[0]
    backend.access_keys.pop(key.physical_resource_id, None)
    key.access_key_id = SESSION_KEY
    key.secret_access_key = SESSION_SECRET
    backend.access_keys[key.physical_resource_id] = key
    session_arn = f"arn:aws:iam::{ACCOUNT}:user/jones-mfa-session"
    token = boto3.client("sts", **kw).get_session_token()["Credentials"]["SessionToken"]
    accept_session_token(token)
    web_identity_unsigned()

    def role(name, policy):
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy)["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="sts", PolicyDocument=ALLOW_STS)
        return arn

    roles = {
        # Only an MFA session (GetSessionToken credentials) may assume this one.
        "session-only": role("session-only", trust(session_arn)),
        # Assumable with jones's own keys (AssumeRole with the MFA code) or the session.
        "admin": role("admin", trust(users["jones"]["arn"], session_arn)),
        "plain": role("plain", trust(users["smith"]["arn"], users["jones"]["arn"])),
        "ext": role("ext", trust(users["smith"]["arn"], external_id="ext-123")),
        "nobody": role("nobody", trust(users["outsider"]["arn"])),
        # A chain: moto matches principals exactly, so the hops name the session of the
        # previous hop (the chain's profiles set role_session_name).
        "chain1": role("chain1", trust(session_arn, users["jones"]["arn"])),
        "hop2": role("hop2", trust(f"arn:aws:sts::{ACCOUNT}:assumed-role/chain1/c1")),
        "hop3": role("hop3", trust(f"arn:aws:sts::{ACCOUNT}:assumed-role/hop2/c2")),
        # The role a web identity token is exchanged for (AssumeRoleWithWebIdentity).
        "web": role("web", trust(users["smith"]["arn"])),
        # A role on top of a fetched source: trusts the session a container, instance
        # metadata or web identity stand-in hands out ("plain" as "src", "web" as "wi").
        "on-source": role("on-source", trust(
            f"arn:aws:sts::{ACCOUNT}:assumed-role/plain/src",
            f"arn:aws:sts::{ACCOUNT}:assumed-role/web/wi")),
    }
    return {"users": users, "mfa_serial": mfa["SerialNumber"], "roles": roles,
            "session_key": SESSION_KEY, "account": ACCOUNT}


if __name__ == "__main__":
    main()
