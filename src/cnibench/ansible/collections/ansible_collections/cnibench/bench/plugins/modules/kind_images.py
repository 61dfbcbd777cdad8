#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kind_images (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: kind_images
short_description: Pull images once on this machine and load them into a kind cluster
description:
  - Pulls each of O(images) that Docker does not have yet (for the daemon's platform only), saves it once into
    O(archive_dir) and loads it into every node of O(cluster) with C(kind load image-archive), so that the nodes
    of every CNI's cluster do not pull it again from Docker Hub.
  - cnibench's own images (the rr workload's sockperf, named C(localhost/cnibench/...)) are built here from the
    package's Dockerfile instead of pulled (C(docker build)) and loaded the same way.
  - Returns each image's registry digest as RV(facts.image_digests) and each built image's ID as
    RV(facts.built_image_ids), recorded in environment.json.
options:
  cluster: {description: The kind cluster., type: str, required: true}
  images: {description: Image references., type: list, elements: str, required: true}
  archive_dir: {description: Where the saved images are kept for the run's next clusters., type: path, required: true}
  cni: {description: The CNI whose cluster this is (the key of the recorded facts)., type: str, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Preload the images
  cnibench.bench.kind_images:
    cluster: cnib1a2b-cilium
    images: [nicolaka/netshoot:v0.16]
    archive_dir: /var/lib/cnibench/kube/cnib1a2b/images
    cni: cilium
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(cluster_facts).
  type: str
  returned: always
facts:
  description: "image_digests: image -> registry digest (null for a build); built_image_ids: image -> its ID."
  type: dict
  returned: success
cni: {description: The CNI the facts belong to., type: str, returned: success}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import run_task

ARGUMENT_SPEC = {
    "cluster": {"type": "str", "required": True},
    "images": {"type": "list", "elements": "str", "required": True},
    "archive_dir": {"type": "path", "required": True},
    "cni": {"type": "str", "required": True},
}


def main() -> None:
    run_task("kind_images", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
