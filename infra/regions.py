"""Cloud regions the harness knows, and which of them are in mainland China (GD-1.2.3c)."""

from __future__ import annotations

MAINLAND_CHINA_REGIONS: frozenset[str] = frozenset(
    {
        "cn-qingdao", "cn-beijing", "cn-zhangjiakou", "cn-huhehaote", "cn-wulanchabu",
        "cn-hangzhou", "cn-shanghai", "cn-nanjing", "cn-fuzhou", "cn-wuhan-lr",
        "cn-shenzhen", "cn-heyuan", "cn-guangzhou", "cn-chengdu",
    }
)
"""Alibaba Cloud region IDs on the mainland; Hong Kong, Macao and Taiwan are not."""

OTHER_REGIONS: frozenset[str] = frozenset(
    {
        "cn-hongkong", "ap-southeast-1", "ap-southeast-3", "ap-southeast-5", "ap-southeast-6",
        "ap-southeast-7", "ap-northeast-1", "ap-northeast-2", "us-west-1", "us-east-1",
        "eu-central-1", "eu-west-1", "me-east-1", "me-central-1", "na-south-1",
    }
)

KNOWN_REGIONS: frozenset[str] = MAINLAND_CHINA_REGIONS | OTHER_REGIONS


def is_mainland_china(region: str) -> bool:
    """True for a region ID whose data centres are in mainland China."""
    return region in MAINLAND_CHINA_REGIONS
