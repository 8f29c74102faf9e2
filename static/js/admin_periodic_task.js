// The admin's periodic task form (django-celery-beat): under a crontab's help, what the chosen schedule means.
(function () {
  const $ = django.jQuery;
  const readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  const help = JSON.parse(document.getElementById("crontab-help").textContent);
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    const meaning = readable[$("#id_crontab").val()];
    $(".field-crontab .help").empty().append(document.createTextNode(help), "<br>", document.createTextNode("Translation: " + meaning));
  });
})();
