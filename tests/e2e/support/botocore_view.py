"""What the installed botocore reads from a pair of shared config files: the reference side of
mfarole's differential config test (tests/e2e/config.rs).

Reads lines "CONFIG<TAB>CREDENTIALS" on stdin (one case per line) and prints one JSON line per
case: {"error": "parse"} when botocore refuses the files, else {"profiles": {NAME: VIEW}} where
VIEW has "settings" (string values; secrets as "<secret>", key ids masked like mfarole's
"…ABCD") and, unless the profile only carries settings, "source" (mfarole's word for the
first credentials), "roles" (the RoleArn of each AssumeRole, in order) and "error" (true when
botocore fails to resolve it).

Credentials are resolved by botocore's own provider chain, with the network replaced: every
client botocore creates is a fake that records AssumeRole and AssumeRoleWithWebIdentity and
answers GetRoleCredentials, so the chain and its order are botocore's. The MFA prompt answers
123456; the instance metadata service is disabled.
"""

import datetime
import getpass
import json
import os
import sys

import botocore.credentials
import botocore.session

SECRETS = {"aws_secret_access_key", "aws_session_token", "aws_security_token"}
FAR = datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)


def mask(key_id):
    return "\u2026" + key_id[-4:]


def shown(key, value):
    if key in SECRETS:
        return "<secret>"
    if key == "aws_access_key_id":
        return mask(value)
    return value


class Fake:
    """Every client botocore makes: records the calls that make a chain."""

    def __init__(self, log, kwargs):
        self.log, self.kwargs = log, kwargs

    def _creds(self):
        n = len(self.log)
        return {
            "AccessKeyId": "ASIAFAKE%012d" % n,
            "SecretAccessKey": "s",
            "SessionToken": "t",
            "Expiration": FAR,
        }

    def assume_role(self, **kw):
        self.log.append(("role", kw["RoleArn"], self.kwargs.get("aws_access_key_id")))
        return {"Credentials": self._creds(), "AssumedRoleUser": {"Arn": "a", "AssumedRoleId": "i"}}

    def assume_role_with_web_identity(self, **kw):
        self.log.append(("web", kw["RoleArn"], None))
        return {"Credentials": self._creds(), "AssumedRoleUser": {"Arn": "a", "AssumedRoleId": "i"}}

    def get_role_credentials(self, **kw):
        self.log.append(("sso", kw.get("roleName"), None))
        c = self._creds()
        return {
            "roleCredentials": {
                "accessKeyId": c["AccessKeyId"],
                "secretAccessKey": "s",
                "sessionToken": "t",
                "expiration": 4070908800000,
            }
        }


def kind_of(method, log, key_id, keys_in_files, process_key):
    """mfarole's word for where the first credentials came from."""
    first = log[0] if log else None
    if first and first[0] == "web":
        return "web identity"
    if first and first[0] == "sso":
        return "IAM Identity Center"
    signer = first[2] if first else key_id
    if method in ("assume-role-with-web-identity",):
        return "web identity"
    if method == "sso":
        return "IAM Identity Center"
    if signer == process_key:
        return "credential_process"
    if signer == os.environ.get("AWS_ACCESS_KEY_ID"):
        return "environment"
    if signer in keys_in_files:
        return "keys"
    return "unknown:" + str(method)


def view(config, credentials, process_key, holder):
    """view(), with each profile's calls recorded in a list of its own."""
    os.environ["AWS_CONFIG_FILE"] = config
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = credentials
    try:
        profiles = botocore.session.Session().full_config["profiles"]
    except Exception:
        return {"error": "parse"}
    keys_in_files = {
        v.get("aws_access_key_id") for v in profiles.values() if isinstance(v, dict)
    }
    out = {}
    for name, values in profiles.items():
        settings = {k: shown(k, v) for k, v in values.items() if isinstance(v, str)}
        entry = {"settings": settings}
        credential_keys = {
            "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "role_arn",
            "source_profile", "credential_source", "credential_process",
            "web_identity_token_file", "sso_session", "sso_start_url", "sso_account_id",
            "sso_role_name", "mfa_serial",
        }
        if not any(values.get(k) for k in credential_keys if isinstance(values.get(k), str)):
            out[name] = entry
            continue
        holder["log"] = []
        try:
            session = botocore.session.Session(profile=name)
            creds = session.get_credentials()
            if creds is None:
                raise RuntimeError("no credentials")
            frozen = creds.get_frozen_credentials()
            log = holder["log"]
            entry["source"] = kind_of(creds.method, log, frozen.access_key, keys_in_files, process_key)
            entry["roles"] = [arn for what, arn, _ in log if what == "role"]
            entry["error"] = False
        except Exception as e:  # botocore's own refusal of this profile
            entry["error"] = True
            entry["why"] = type(e).__name__
        out[name] = entry
    return {"profiles": out}


def main():
    process_key = sys.argv[1]
    holder = {"log": []}

    def create_client(self, *args, **kwargs):
        return Fake(holder["log"], kwargs)

    botocore.session.Session.create_client = create_client
    # AssumeRoleProvider binds getpass.getpass as a default argument when botocore is
    # imported, so the prompt is replaced where the provider is built.
    getpass.getpass = lambda *a, **k: "123456"
    original = botocore.credentials.AssumeRoleProvider.__init__

    def no_prompt(self, *args, **kwargs):
        kwargs["prompter"] = getpass.getpass
        original(self, *args, **kwargs)

    botocore.credentials.AssumeRoleProvider.__init__ = no_prompt
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for line in sys.stdin:
        config, credentials = line.rstrip("\n").split("\t")
        try:
            result = view(config, credentials, process_key, holder)
        except Exception as e:  # a fault of this script, not botocore's refusal: say so
            result = {"internal": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
