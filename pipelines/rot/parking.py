"""Data: the hosts and markers of domain-parking and domain-sale services.

Source of the service list: the parking services measured in T. Vissers,
W. Joosen, N. Nikiforakis, "Parking Sensors: Analyzing and Detecting Parked
Domains", NDSS 2015 (Sedo, Bodis, ParkingCrew, Above, SmartName, Skenzo,
DomainSponsor, TrafficZ, Fabulous, InternetTraffic, ...), completed with the
large domain marketplaces (Dan, Afternic, HugeDomains, GoDaddy's parking
lander, Sav, Undeveloped, DomainMarket, Epik, Uniregistry/Uni, Squadhelp,
Atom, BrandBucket, NameBright). The host names are each service's own public
domain names, as their parked pages reference them. Matching is by host
suffix (``sedoparking.com`` matches ``www.sedoparking.com``).
"""

from __future__ import annotations

#: hosts whose presence in the redirect chain means the domain is parked or for sale
PARKING_HOSTS: frozenset[str] = frozenset(
    {
        "sedoparking.com",
        "sedo.com",
        "bodis.com",
        "parkingcrew.net",
        "parkingcrew.com",
        "above.com",
        "smartname.com",
        "skenzo.com",
        "domainsponsor.com",
        "dsparking.com",
        "trafficz.com",
        "fabulous.com",
        "internettraffic.com",
        "parklogic.com",
        "dan.com",
        "afternic.com",
        "hugedomains.com",
        "domainmarket.com",
        "undeveloped.com",
        "sav.com",
        "epik.com",
        "uniregistry.com",
        "uni.com",
        "squadhelp.com",
        "atom.com",
        "brandbucket.com",
        "namebright.com",
        "domainnamesales.com",
        "buydomains.com",
        "parked.com",
        "parkingpage.namecheap.com",
        "searchhounds.com",
        "domainlore.com",
    }
)

#: byte strings (lowercase) that parking landers carry in their markup: the
#: scripts, styles and frames they load from the services above
PARKING_MARKUP: tuple[bytes, ...] = (
    b"sedoparking.com",
    b"sedoparkingurl",
    b"parking.bodis.com",
    b"bodis.com/",
    b"parkingcrew.net",
    b"img1.wsimg.com/parking-lander",
    b"parking-lander",
    b"above.com/marketplace",
    b"dan.com/buy-domain",
    b"afternic.com/forsale",
    b"hugedomains.com/domain_profile",
    b"domainsponsor.com",
    b"skenzo.com",
    b"parklogic.com",
    b"trafficz.com",
    b"smartname.com",
    b"searchhounds.com",
    b"parkingpage.namecheap.com",
)
