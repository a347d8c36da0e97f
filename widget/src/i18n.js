// The widget's own texts. The agent's `locale`, else the browser's language, picks the table;
// English fills any gap. Right-to-left languages get dir="rtl".

var STRINGS = {
  en: {
    open: "Open chat", close: "Close chat", chat: "Chat", newChat: "New conversation",
    message: "Message", placeholder: "Write a message…", send: "Send", stop: "Stop generating",
    retry: "Retry", typing: "The assistant is typing", tool: "Looking that up…", toolDone: "Looked it up",
    toolFailed: "A lookup failed", helpful: "Helpful", unhelpful: "Not helpful", sources: "Sources",
    stopped: "Stopped.", error: "Something went wrong. Please try again.",
    offline: "You seem to be offline. Check your connection and try again.",
    unavailable: "This chat is not available on this website.", wait: "Too many messages. Please wait {0} s.",
    powered: "Powered by", conversation: "Conversation", thanks: "Thanks for the feedback!",
  },
  es: {
    open: "Abrir chat", close: "Cerrar chat", chat: "Chat", newChat: "Nueva conversación",
    message: "Mensaje", placeholder: "Escribe un mensaje…", send: "Enviar", stop: "Detener",
    retry: "Reintentar", typing: "El asistente está escribiendo", tool: "Consultando…", toolDone: "Consultado",
    toolFailed: "Una consulta falló", helpful: "Útil", unhelpful: "No es útil", sources: "Fuentes",
    stopped: "Detenido.", error: "Algo salió mal. Inténtalo de nuevo.",
    offline: "Parece que no tienes conexión. Compruébala e inténtalo de nuevo.",
    unavailable: "Este chat no está disponible en este sitio web.", wait: "Demasiados mensajes. Espera {0} s.",
    powered: "Con la tecnología de", conversation: "Conversación", thanks: "¡Gracias por tu opinión!",
  },
  fr: {
    open: "Ouvrir le chat", close: "Fermer le chat", chat: "Chat", newChat: "Nouvelle conversation",
    message: "Message", placeholder: "Écrivez un message…", send: "Envoyer", stop: "Arrêter",
    retry: "Réessayer", typing: "L’assistant écrit", tool: "Recherche en cours…", toolDone: "Recherche effectuée",
    toolFailed: "Une recherche a échoué", helpful: "Utile", unhelpful: "Pas utile", sources: "Sources",
    stopped: "Arrêté.", error: "Une erreur s’est produite. Veuillez réessayer.",
    offline: "Vous semblez hors ligne. Vérifiez votre connexion et réessayez.",
    unavailable: "Ce chat n’est pas disponible sur ce site.", wait: "Trop de messages. Patientez {0} s.",
    powered: "Propulsé par", conversation: "Conversation", thanks: "Merci pour votre avis !",
  },
  de: {
    open: "Chat öffnen", close: "Chat schließen", chat: "Chat", newChat: "Neues Gespräch",
    message: "Nachricht", placeholder: "Nachricht schreiben…", send: "Senden", stop: "Anhalten",
    retry: "Erneut versuchen", typing: "Der Assistent schreibt", tool: "Wird nachgeschlagen…", toolDone: "Nachgeschlagen",
    toolFailed: "Nachschlagen fehlgeschlagen", helpful: "Hilfreich", unhelpful: "Nicht hilfreich", sources: "Quellen",
    stopped: "Angehalten.", error: "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.",
    offline: "Sie scheinen offline zu sein. Prüfen Sie Ihre Verbindung.",
    unavailable: "Dieser Chat ist auf dieser Website nicht verfügbar.", wait: "Zu viele Nachrichten. Bitte {0} s warten.",
    powered: "Bereitgestellt von", conversation: "Gespräch", thanks: "Danke für Ihr Feedback!",
  },
  ar: {
    open: "افتح الدردشة", close: "أغلق الدردشة", chat: "دردشة", newChat: "محادثة جديدة",
    message: "رسالة", placeholder: "اكتب رسالة…", send: "إرسال", stop: "إيقاف",
    retry: "أعد المحاولة", typing: "المساعد يكتب", tool: "جارٍ البحث…", toolDone: "تم البحث",
    toolFailed: "فشل البحث", helpful: "مفيد", unhelpful: "غير مفيد", sources: "المصادر",
    stopped: "تم الإيقاف.", error: "حدث خطأ ما. حاول مرة أخرى.",
    offline: "يبدو أنك غير متصل. تحقق من اتصالك وحاول مرة أخرى.",
    unavailable: "هذه الدردشة غير متاحة على هذا الموقع.", wait: "رسائل كثيرة جدًا. انتظر {0} ث.",
    powered: "مدعوم من", conversation: "المحادثة", thanks: "شكرًا على ملاحظاتك!",
  },
};

var RTL = ["ar", "he", "fa", "ur"];

/** `{lang, dir, t(key, arg)}` for a locale such as `de-AT`. */
export function strings(locale) {
  var lang = String(locale || "en").toLowerCase().split(/[-_]/)[0];
  var table = STRINGS[lang] || STRINGS.en;
  return {
    lang: STRINGS[lang] ? lang : "en",
    dir: RTL.indexOf(lang) >= 0 && STRINGS[lang] ? "rtl" : "ltr",
    t: function (key, arg) {
      return (table[key] || STRINGS.en[key] || key).replace("{0}", arg == null ? "" : arg);
    },
  };
}
