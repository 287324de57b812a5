"""The project's URLs plus one test page, so the page, the SDK and the worker share the live server's origin
(service workers are same-origin only). Used through the ``settings`` fixture, never in production."""

from django.http import HttpResponse
from django.urls import path

from pushpilot import urls as project_urls
from tests.sdk import PAGE


def sdk_test_page(request):
    return HttpResponse(PAGE.read_bytes(), content_type="text/html; charset=utf-8")


urlpatterns = [path("sdk-test/", sdk_test_page, name="sdk-test-page"), *project_urls.urlpatterns]

handler404 = project_urls.handler404
handler500 = project_urls.handler500
