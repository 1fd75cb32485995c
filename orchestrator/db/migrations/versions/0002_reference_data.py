"""Reference data: the central level and the 34 provincial-level units in force since 1/7/2025.

Codes are stable ASCII slugs (used in room names and archive keys) beside the General
Statistics Office's numeric codes, which the merged units kept (Resolution 202/2025/QH15).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (code, GSO code, name, kind)
PROVINCES = [
    ("tw", "00", "Trung ương", "central"),
    ("ha-noi", "01", "Hà Nội", "city"),
    ("cao-bang", "04", "Cao Bằng", "province"),
    ("tuyen-quang", "08", "Tuyên Quang", "province"),
    ("dien-bien", "11", "Điện Biên", "province"),
    ("lai-chau", "12", "Lai Châu", "province"),
    ("son-la", "14", "Sơn La", "province"),
    ("lao-cai", "15", "Lào Cai", "province"),
    ("thai-nguyen", "19", "Thái Nguyên", "province"),
    ("lang-son", "20", "Lạng Sơn", "province"),
    ("quang-ninh", "22", "Quảng Ninh", "province"),
    ("bac-ninh", "24", "Bắc Ninh", "province"),
    ("phu-tho", "25", "Phú Thọ", "province"),
    ("hai-phong", "31", "Hải Phòng", "city"),
    ("hung-yen", "33", "Hưng Yên", "province"),
    ("ninh-binh", "37", "Ninh Bình", "province"),
    ("thanh-hoa", "38", "Thanh Hóa", "province"),
    ("nghe-an", "40", "Nghệ An", "province"),
    ("ha-tinh", "42", "Hà Tĩnh", "province"),
    ("quang-tri", "44", "Quảng Trị", "province"),
    ("hue", "46", "Huế", "city"),
    ("da-nang", "48", "Đà Nẵng", "city"),
    ("quang-ngai", "51", "Quảng Ngãi", "province"),
    ("gia-lai", "52", "Gia Lai", "province"),
    ("khanh-hoa", "56", "Khánh Hòa", "province"),
    ("dak-lak", "66", "Đắk Lắk", "province"),
    ("lam-dong", "68", "Lâm Đồng", "province"),
    ("dong-nai", "75", "Đồng Nai", "province"),
    ("ho-chi-minh", "79", "TP Hồ Chí Minh", "city"),
    ("tay-ninh", "80", "Tây Ninh", "province"),
    ("dong-thap", "82", "Đồng Tháp", "province"),
    ("vinh-long", "86", "Vĩnh Long", "province"),
    ("an-giang", "91", "An Giang", "province"),
    ("can-tho", "92", "Cần Thơ", "city"),
    ("ca-mau", "96", "Cà Mau", "province"),
]

provinces = sa.table(
    "provinces",
    sa.column("code", sa.String),
    sa.column("gso_code", sa.String),
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
)
agencies = sa.table(
    "agencies",
    sa.column("name", sa.String),
    sa.column("tier", sa.String),
    sa.column("province_code", sa.String),
)


def upgrade() -> None:
    op.bulk_insert(
        provinces,
        [{"code": c, "gso_code": g, "name": n, "kind": k} for c, g, n, k in PROVINCES],
    )
    op.bulk_insert(
        agencies,
        [{"name": "Ban Tiếp công dân Trung ương", "tier": "central", "province_code": "tw"}],
    )


def downgrade() -> None:
    op.execute(agencies.delete().where(agencies.c.province_code == "tw"))
    op.execute(provinces.delete())
