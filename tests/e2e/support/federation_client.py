#!/usr/bin/env python3
"""A reference client of the federation endpoint, following the Python sample of AWS's "Enable
custom identity broker access to the AWS console": credentials from STS (boto3, against moto),
`Session` as `json.dumps` of the three keys, `urllib.parse.quote_plus`, a GET of
`?Action=getSigninToken[&SessionDuration=N]&Session=...`, and `SigninToken` from the JSON.

Usage: federation_client.py FEDERATION_BASE STS_URL KEY SECRET CASE ROLE_ARN NEXT_ROLE_ARN
CASE: role-long-term (ROLE_ARN assumed with the user's keys, session name "src"), chained
(NEXT_ROLE_ARN assumed with those role credentials), gst (GetSessionToken), federation (GetFederationToken), garbage (made-up keys);
each optionally `:DURATION` for SessionDuration. Prints `STATUS TOKEN-OR-REASON`.
"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import boto3


def credentials(sts_url, key, secret, case, role_arn, next_arn):
    sts = boto3.client("sts", endpoint_url=sts_url, region_name="us-east-1",
                       aws_access_key_id=key, aws_secret_access_key=secret)
    if case == "garbage":
        return {"AccessKeyId": "ASIANOTHING", "SecretAccessKey": "x", "SessionToken": "y"}
    if case == "gst":
        return sts.get_session_token()["Credentials"]
    if case == "federation":
        return sts.get_federation_token(Name="reference-client")["Credentials"]
    role = sts.assume_role(RoleArn=role_arn, RoleSessionName="src")["Credentials"]
    if case == "role-long-term":
        return role
    chained = boto3.client("sts", endpoint_url=sts_url, region_name="us-east-1",
                           aws_access_key_id=role["AccessKeyId"],
                           aws_secret_access_key=role["SecretAccessKey"],
                           aws_session_token=role["SessionToken"])
    return chained.assume_role(RoleArn=next_arn, RoleSessionName="again")["Credentials"]


def main():
    base, sts_url, key, secret, case, role_arn, next_arn = sys.argv[1:8]
    case, _, duration = case.partition(":")
    creds = credentials(sts_url, key, secret, case, role_arn, next_arn)
    session = json.dumps({"sessionId": creds["AccessKeyId"],
                          "sessionKey": creds["SecretAccessKey"],
                          "sessionToken": creds["SessionToken"]})
    url = base + "/federation?Action=getSigninToken"
    if duration:
        url += "&SessionDuration=" + duration
    url += "&Session=" + urllib.parse.quote_plus(session)
    try:
        with urllib.request.urlopen(url) as answer:
            print(answer.status, json.loads(answer.read())["SigninToken"])
    except urllib.error.HTTPError as e:
        print(e.code, e.read().decode())


if __name__ == "__main__":
    main()
