#!/usr/bin/env python3
"""The status quo for draining a queue: a sequential boto3 loop that receives
up to 10 messages, parses each body, and deletes the batch. Prints messages
per second.

usage: sqs_boto3_baseline.py ENDPOINT QUEUE_URL
"""
import json
import sys
import time

import boto3


def main():
    endpoint, queue_url = sys.argv[1], sys.argv[2]
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
    done = 0
    began = time.monotonic()
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                  VisibilityTimeout=60)
        messages = got.get("Messages", [])
        if not messages:
            break
        for m in messages:
            json.loads(m["Body"])
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        done += len(messages)
    elapsed = time.monotonic() - began
    print(f"{done / elapsed:.1f} {done}")


if __name__ == "__main__":
    main()
