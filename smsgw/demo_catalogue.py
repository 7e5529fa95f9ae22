"""The example service catalogue `smsgw demo` starts with: what a Belize deployment might offer.

Welcome texts are GSM 03.38 only (Spanish written without á í ó ú) so each fits one SMS. Each
service's alias is its Spanish word: a citizen who texts SALUD is answered in Spanish.
"""

from __future__ import annotations

from subscriptions.models import Service


def _service(
    keyword: str,
    alias: str,
    ministry: str,
    names: tuple[str, str],
    descriptions: tuple[str, str],
    welcome: tuple[str, str],
) -> Service:
    return Service(
        keyword=keyword,
        ministry=ministry,
        names={"en": names[0], "es": names[1]},
        aliases=(alias,),
        alias_languages={alias: "es"},
        descriptions={"en": descriptions[0], "es": descriptions[1]},
        welcome={"en": welcome[0], "es": welcome[1]},
    )


DEMO_SERVICES = (
    _service(
        "HEALTH", "SALUD", "health",
        ("Health alerts", "Alertas de salud"),
        ("Clinics, vaccination days, outbreaks", "Clinicas, vacunacion, brotes"),
        ("Welcome to Health alerts from the Ministry of Health. Reply STOP HEALTH to leave.",
         "Bienvenido a Alertas de salud del Ministerio de Salud. Responda ALTO SALUD para salir."),
    ),
    _service(
        "HURRICANE", "HURACAN", "nemo",
        ("Hurricane and flood alerts", "Alertas de huracan e inundacion"),
        ("Warnings, shelters, all-clear from NEMO", "Avisos, refugios y fin de alerta de NEMO"),
        ("NEMO: you will get hurricane and flood alerts on this phone. Reply STOP HURRICANE to "
         "leave.",
         "NEMO: le enviaremos alertas de huracan e inundacion. Responda ALTO HURACAN para salir."),
    ),
    _service(
        "WEATHER", "CLIMA", "met",
        ("Weather forecast", "Pronostico del tiempo"),
        ("Daily forecast from the Met Service", "Pronostico diario del Servicio Meteorologico"),
        ("Welcome to the daily weather forecast. Reply STOP WEATHER to leave.",
         "Bienvenido al pronostico diario del tiempo. Responda ALTO CLIMA para salir."),
    ),
    _service(
        "EDUCATION", "EDUCACION", "education",
        ("School news", "Noticias escolares"),
        ("School closures, exams, scholarships", "Cierre de escuelas, examenes, becas"),
        ("Welcome to School news from the Ministry of Education. Reply STOP EDUCATION to leave.",
         "Bienvenido a Noticias escolares. Responda ALTO EDUCACION para salir."),
    ),
    _service(
        "AGRI", "AGRO", "agriculture",
        ("Farm prices", "Precios agricolas"),
        ("Weekly market prices, pest warnings", "Precios semanales, avisos de plagas"),
        ("Welcome to Farm prices: weekly market prices and pest warnings. Reply STOP AGRI to "
         "leave.",
         "Bienvenido a Precios agricolas: precios semanales y avisos de plagas. "
         "Responda ALTO AGRO."),
    ),
    _service(
        "JOBS", "EMPLEO", "labour",
        ("Job offers", "Ofertas de empleo"),
        ("Public job openings and training", "Empleos publicos y capacitacion"),
        ("Welcome to Job offers from the Labour Department. Reply STOP JOBS to leave.",
         "Bienvenido a Ofertas de empleo. Responda ALTO EMPLEO para salir."),
    ),
)  # fmt: skip
