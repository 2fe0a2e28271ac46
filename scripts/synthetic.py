"""A synthetic world of cities for benchmarks: where stores stand and where shoppers live.

Both follow the same model, so queries fall where people (and shops) are: each city has a dense
core, a few sub-centres and a thin suburban spread, with a size from its rough population.
The city list gives real centres; the rest is made up, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class City:
    name: str
    lat: float
    lng: float
    weight: float  # rough population in millions: how many stores and shoppers it gets
    timezone: str


CITIES = (
    City("Shanghai", 31.2304, 121.4737, 24.9, "Asia/Shanghai"),
    City("Beijing", 39.9042, 116.4074, 21.9, "Asia/Shanghai"),
    City("Guangzhou", 23.1291, 113.2644, 18.7, "Asia/Shanghai"),
    City("Shenzhen", 22.5431, 114.0579, 17.6, "Asia/Shanghai"),
    City("Chengdu", 30.5728, 104.0668, 16.3, "Asia/Shanghai"),
    City("Chongqing", 29.5630, 106.5516, 15.0, "Asia/Shanghai"),
    City("Tianjin", 39.3434, 117.3616, 13.9, "Asia/Shanghai"),
    City("Wuhan", 30.5928, 114.3055, 12.3, "Asia/Shanghai"),
    City("Xi'an", 34.3416, 108.9398, 12.9, "Asia/Shanghai"),
    City("Hangzhou", 30.2741, 120.1551, 12.2, "Asia/Shanghai"),
    City("Nanjing", 32.0603, 118.7969, 9.3, "Asia/Shanghai"),
    City("Suzhou", 31.2990, 120.5853, 12.7, "Asia/Shanghai"),
    City("Zhengzhou", 34.7466, 113.6254, 12.6, "Asia/Shanghai"),
    City("Changsha", 28.2282, 112.9388, 10.0, "Asia/Shanghai"),
    City("Qingdao", 36.0671, 120.3826, 10.1, "Asia/Shanghai"),
    City("Xiamen", 24.4798, 118.0894, 5.2, "Asia/Shanghai"),
    City("Hong Kong", 22.3193, 114.1694, 7.5, "Asia/Hong_Kong"),
    City("Taipei", 25.0330, 121.5654, 6.9, "Asia/Taipei"),
    City("Taichung", 24.1477, 120.6736, 2.8, "Asia/Taipei"),
    City("Kaohsiung", 22.6273, 120.3014, 2.7, "Asia/Taipei"),
    City("Hsinchu", 24.8138, 120.9675, 1.1, "Asia/Taipei"),
    City("Tokyo", 35.6762, 139.6503, 37.0, "Asia/Tokyo"),
    City("Osaka", 34.6937, 135.5023, 19.0, "Asia/Tokyo"),
    City("Nagoya", 35.1815, 136.9066, 9.5, "Asia/Tokyo"),
    City("Fukuoka", 33.5904, 130.4017, 2.6, "Asia/Tokyo"),
    City("Sapporo", 43.0618, 141.3545, 2.0, "Asia/Tokyo"),
    City("Seoul", 37.5665, 126.9780, 25.5, "Asia/Seoul"),
    City("Busan", 35.1796, 129.0756, 3.4, "Asia/Seoul"),
    City("Singapore", 1.3521, 103.8198, 5.9, "Asia/Singapore"),
    City("Bangkok", 13.7563, 100.5018, 10.9, "Asia/Bangkok"),
    City("Manila", 14.5995, 120.9842, 14.4, "Asia/Manila"),
    City("Jakarta", -6.2088, 106.8456, 11.2, "Asia/Jakarta"),
    City("Ho Chi Minh City", 10.8231, 106.6297, 9.3, "Asia/Ho_Chi_Minh"),
    City("Kuala Lumpur", 3.1390, 101.6869, 8.6, "Asia/Kuala_Lumpur"),
    City("Helsinki", 60.1699, 24.9384, 1.3, "Europe/Helsinki"),
)

CONVENIENCE_BRANDS = ("7-Eleven", "FamilyMart", "Lawson", "Hi-Life", "OK Mart", "Meiyijia",
                      "Circle K", "Ministop", "Kedi", "Easy Joy")  # fmt: skip
SUPERMARKET_BRANDS = ("PX Mart", "Carrefour", "Wellcome", "Hema", "Yonghui", "Aeon", "Lotte Mart")
GROCERY_BRANDS = ("Family Grocery", "Corner Shop", "Fresh Market")
PHARMACY_BRANDS = ("Watsons", "Cosmed", "Matsumoto Kiyoshi")
KIND_SHARES = {"convenience": 0.62, "supermarket": 0.14, "grocery": 0.20, "pharmacy": 0.04}
HOURS = {
    "convenience": ("24/7", "Mo-Su 07:00-23:00"),
    "supermarket": ("Mo-Su 08:00-22:00", "Mo-Su 09:00-23:00"),
    "grocery": ("Mo-Sa 07:00-21:00; Su 08:00-20:00", "Mo-Su 06:00-22:00"),
    "pharmacy": ("Mo-Fr 09:00-21:00; Sa,Su 10:00-18:00", "Mo-Su 10:00-22:00"),
}
KM_PER_DEGREE = 111.32

FloatArray = npt.NDArray[np.float64]


def sample_points(
    count: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """``count`` points where people live: (lats, lngs, city index)."""
    weights = np.array([c.weight for c in CITIES])
    city = rng.choice(len(CITIES), size=count, p=weights / weights.sum())
    scale_km = 2.0 + 1.2 * np.sqrt(weights[city])  # bigger cities sprawl further
    part = rng.random(count)
    sigma_km = np.where(part < 0.55, scale_km, np.where(part < 0.9, scale_km * 0.35, scale_km * 3))
    # sub-centres: a fixed handful per city, placed by a seed of their own
    sub = np.random.default_rng(12345).normal(0.0, 1.0, size=(len(CITIES), 6, 2))
    pick = rng.integers(0, 6, size=count)
    offset_km = (
        np.where((part >= 0.55) & (part < 0.9), 1.0, 0.0)[:, None]
        * sub[city, pick]
        * scale_km[:, None]
    )
    d_km = rng.normal(0.0, 1.0, size=(count, 2)) * sigma_km[:, None] + offset_km
    lat0 = np.array([c.lat for c in CITIES])[city]
    lng0 = np.array([c.lng for c in CITIES])[city]
    lats = np.clip(lat0 + d_km[:, 0] / KM_PER_DEGREE, -89.9, 89.9)
    lngs = lng0 + d_km[:, 1] / (KM_PER_DEGREE * np.cos(np.radians(lats)))
    lngs = (lngs + 180.0) % 360.0 - 180.0
    return lats, lngs, city
